using System.ComponentModel;
using System.Globalization;
using UnleashingTransformers.Models.Sampling;
using UnleashingTransformers.Models.Transformer;
using UnleashingTransformers.Torch;
using UnleashingTransformers.Torch.Serialization;

namespace UnleashingTransformers.Models.Backbones;

/// <summary>
/// One kind of denoising network (<c>ut train-prior --model NAME</c>): its name, what <c>--model</c> says of it, which
/// backbone settings are its own, how it corrupts tokens in training, and how to build, check, record and read one.
/// Each backbone's file holds its kind; <see cref="PriorNetworks.All"/> lists them, the one registration. Written as
/// its name wherever a setting names one (silo.json's <c>Trainer:Prior:Model</c> binds through <see cref="NameConverter"/>).
/// </summary>
[TypeConverter(typeof(NameConverter))]
public abstract class PriorBackbone
{
    /// <summary>As <c>--model</c> takes it, and as a checkpoint records it.</summary>
    public abstract string Name { get; }

    /// <summary>A phrase for <c>--model</c>'s help.</summary>
    public abstract string Description { get; }

    /// <summary>The <see cref="BackboneOptions"/> settings it takes, by their flags (<see cref="BackboneOptions.Given"/>).</summary>
    public virtual IReadOnlyList<string> Settings => [];

    /// <summary>Absorbing (mask tokens, the paper's) or uniform (random tokens, trained by step-unrolled denoising).</summary>
    public virtual Corruption Corruption => Corruption.Absorbing;

    /// <summary>Whether its network is laid out on the token grid (all but the paper's transformer, which sees a sequence).</summary>
    public virtual bool OnGrid => true;

    /// <summary>The trainer's checkpoint file names: <c>PREFIX_N.th</c>.</summary>
    public virtual string CheckpointPrefix => "absorbing";

    /// <summary><c>--layers</c> as given (null: the default): the block count, and the depth of the network's parts where
    /// it has parts (the hourglass).</summary>
    public virtual (int count, string? depth) Layers(string? given, int defaultLayers)
    {
        var text = given ?? defaultLayers.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return int.TryParse(text, out var n) && n >= 1 ? (n, null)
            : throw new SettingException(SettingNames.Layers,
                $"{text}: a positive block count (pre-valley-post, an hourglass depth, is for {SettingException.Ref(SettingNames.Backbone)} " +
                    $"{string.Join(" and ", PriorNetworks.All.Where(b => b.Settings.Contains(SettingNames.Depth)).Select(b => b.Name))})");
    }

    /// <summary>A fresh network for a <paramref name="gridHeight"/> x <paramref name="gridWidth"/> window (the settings checked).</summary>
    public abstract PriorNetwork Create(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options);

    /// <summary>Throws SettingException where <see cref="Create"/> would refuse.</summary>
    public abstract void Validate(TransformerConfig config, int gridHeight, int gridWidth, BackboneOptions options);

    /// <summary>Writes what rebuilding the network needs beyond its shapes and grid into its checkpoint's record.</summary>
    public virtual void Record(PriorNetwork network, PyDict entry) { }

    /// <summary>Whether a state dict that records no backbone is of this kind (another project's files: NAT Diffuser's,
    /// SUNDAE-VQGAN's). The paper's transformer is what is left.</summary>
    public virtual bool Recognizes(IReadOnlyDictionary<string, Tensor> sd) => false;

    /// <summary>The network a denoiser state dict (keys without the prefix) and its record (null: none) describe.</summary>
    public abstract PriorNetwork Read(IReadOnlyDictionary<string, Tensor> sd, int heads, PyDict? entry);

    public override string ToString() => Name;

    /// <summary>A backbone from its name and back, for configuration binding.</summary>
    public sealed class NameConverter : TypeConverter
    {
        public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

        public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
            value is string name ? PriorNetworks.Parse(name) : base.ConvertFrom(context, culture, value);

        public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType) =>
            value is PriorBackbone b && destinationType == typeof(string) ? b.Name : base.ConvertTo(context, culture, value, destinationType);
    }
}

using System.CommandLine;
using UnleashingTransformers.Models;
using UnleashingTransformers.Models.Backbones;
using Xunit;

namespace UnleashingTransformers.Cli.Tests;

/// <summary>The models say what is wrong in their own words; the command line says it with its flags.</summary>
public class CliFlagsTests
{
    [Fact]
    public void EverySettingHasAFlagThatACommandTakes()
    {
        Assert.Empty(CliFlags.Missing());
        var options = new HashSet<string>();
        void Walk(Command c)
        {
            foreach (var o in c.Options) options.Add(o.Name);
            foreach (var s in c.Subcommands) Walk(s);
        }
        Walk(UtCommands.Root());
        Assert.Contains("--kernel", options);   // the walk sees the commands' options
        Assert.All(CliFlags.All, said =>
        {
            var flags = System.Text.RegularExpressions.Regex.Matches(said, "--[a-z-]+").Select(m => m.Value).ToList();
            Assert.NotEmpty(flags);
            Assert.All(flags, f => Assert.Contains(f, options));
        });
    }

    [Fact]
    public void AModelsRefusalNamesTheFlagsOnTheCommandLine()
    {
        // in the models' words
        var e = Assert.Throws<SettingException>(() => PriorNetworks.Create(NatBackbone.Instance, new Models.Transformer.TransformerConfig(16, 32, 4, 1, 64), 8, 8,
            new BackboneOptions { Layout = NatLayout.Flat, Positions = NatPositions.None }));
        Assert.StartsWith("layout flat is NAT Diffuser's model", e.Message);
        Assert.EndsWith("leave out positions none", e.Message);
        Assert.Equal("--layout flat is NAT Diffuser's model, which adds its learned pos_emb: leave out --positions none", e.Describe(CliFlags.For));
        // ut says it so: PriorCliTests ask train-prior for "--kernel, --dilations, --positions and --layout are for --model nat"
    }
}

using System.Text.RegularExpressions;

namespace UnleashingTransformers.Models;

/// <summary>
/// A setting the models cannot run with, said in their own words: which setting (one of <see cref="SettingNames"/>)
/// and what is wrong with it. The problem may name other settings as <c>{name}</c>. <see cref="Exception.Message"/>
/// calls every setting by its name; a caller that knows where the user gave them calls them its way with
/// <see cref="Describe"/> (the CLI by its flags).
/// </summary>
public sealed partial class SettingException : ArgumentException
{
    public SettingException(string setting, string problem) : this(setting, problem, null) { }

    private SettingException(string setting, string problem, string? source) : base(Render(source, setting, problem, name => name)) =>
        (Setting, Problem, Where) = (setting, problem, source);

    /// <summary>The setting at fault, as <see cref="SettingNames"/> names it.</summary>
    public string Setting { get; }

    /// <summary>What is wrong, other settings in it as <c>{name}</c>.</summary>
    public string Problem { get; }

    /// <summary>The file the setting met (a checkpoint it does not fit), or null.</summary>
    public string? Where { get; }

    /// <summary>The same refusal, said of <paramref name="file"/>.</summary>
    public SettingException In(string file) => new(Setting, Problem, file);

    /// <summary>The settings named <paramref name="name"/>'s way: e.g. "kernel 4: ..." becomes "--kernel 4: ...".</summary>
    public string Describe(Func<string, string> name) => Render(Where, Setting, Problem, name);

    /// <summary>Throws unless <paramref name="ok"/>: <paramref name="setting"/> <paramref name="rule"/>.</summary>
    public static void Require(bool ok, string setting, string rule)
    {
        if (!ok) throw new SettingException(setting, rule);
    }

    /// <summary>The setting as a problem text names it: <c>{name}</c>.</summary>
    public static string Ref(string setting) => $"{{{setting}}}";

    private static string Render(string? source, string setting, string problem, Func<string, string> name) =>
        $"{(source is null ? "" : $"{source}: ")}{name(setting)}{(problem.StartsWith(',') ? "" : " ")}{Reference().Replace(problem, m => name(m.Groups[1].Value))}";

    [GeneratedRegex(@"\{([a-z][a-z -]*)\}")]
    private static partial Regex Reference();
}

using System.Text.RegularExpressions;
using Xunit;

namespace UnleashingTransformers.Models.Tests;

/// <summary>The Models project's folders depend on each other in one direction only (its README): a <c>using</c> of a
/// folder's namespace that the table does not allow fails here, so a loop cannot come back unnoticed.</summary>
public partial class FolderDependencyTests
{
    private static readonly string Source = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "UnleashingTransformers.Models"));

    /// <summary>What each folder may use; a folder not listed may use any.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Transformer"] = [],
        ["Sampling"] = [],
        ["Backbones"] = ["Transformer", "Sampling"],
        ["VqGan"] = ["Sampling"],
        ["Evaluation"] = [],
        ["IO"] = [],
    };

    [GeneratedRegex(@"^using (?:static )?UnleashingTransformers\.Models\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex ModelsUsing();

    [Fact]
    public void FoldersUseOnlyTheFoldersBelowThem()
    {
        Assert.True(Directory.Exists(Source), Source);
        var found = new List<string>();
        foreach (var (folder, allowed) in Allowed)
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Source, folder), "*.cs", SearchOption.AllDirectories))
                foreach (Match m in ModelsUsing().Matches(File.ReadAllText(file)))
                {
                    var used = m.Groups[1].Value;
                    if (used != folder && !allowed.Contains(used)) found.Add($"{Path.GetRelativePath(Source, file)} uses {used}");
                }
        Assert.True(found.Count == 0, string.Join("; ", found));
        // and the check sees what it checks: Backbones does use both of its allowed folders
        var backbones = Directory.EnumerateFiles(Path.Combine(Source, "Backbones"), "*.cs").Select(File.ReadAllText).ToList();
        Assert.Contains(backbones, s => s.Contains("using UnleashingTransformers.Models.Transformer;"));
    }
}

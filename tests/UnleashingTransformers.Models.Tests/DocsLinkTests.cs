using System.Text.RegularExpressions;
using Xunit;

namespace UnleashingTransformers.Models.Tests;

/// <summary>Each page of docs/ links the code it describes, and every link to the source tree leads to a file or
/// folder that exists: a moved file breaks this test, not the reader's click.</summary>
public partial class DocsLinkTests
{
    private static readonly string Docs = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "docs"));

    [GeneratedRegex(@"\]\((\.\./src/[^)#]+)\)")]
    private static partial Regex SourceLink();

    [Fact]
    public void EveryPageLinksItsCodeAndEveryLinkLeadsSomewhere()
    {
        var pages = Directory.GetFiles(Docs, "*.md");
        Assert.NotEmpty(pages);
        var broken = new List<string>();
        foreach (var page in pages)
        {
            var links = SourceLink().Matches(File.ReadAllText(page)).Select(m => m.Groups[1].Value).ToList();
            if (links.Count == 0) broken.Add($"{Path.GetFileName(page)} links no code");
            foreach (var link in links)
            {
                var target = Path.GetFullPath(Path.Combine(Docs, link));
                if (!File.Exists(target) && !Directory.Exists(target)) broken.Add($"{Path.GetFileName(page)}: {link}");
            }
        }
        Assert.True(broken.Count == 0, string.Join("; ", broken));
    }
}

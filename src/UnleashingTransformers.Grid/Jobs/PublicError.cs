using System.Text.RegularExpressions;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// An error as it may reach a client (a job's <c>error</c>, an HTTP response): one line of what went wrong,
/// without stack frames, file paths or network endpoints. The whole exception goes to the silo's log.
/// </summary>
public static partial class PublicError
{
    private const int MaxLength = 300;

    public static string Of(Exception e) => Of(e.Message);

    public static string Of(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        line = Endpoint().Replace(Path().Replace(line, m => System.IO.Path.GetFileName(m.Value.TrimEnd('/'))), "<endpoint>");
        return line.Length <= MaxLength ? line : line[..MaxLength] + "...";
    }

    /// <summary>An absolute path of two or more parts; its last part (a file name) stays.</summary>
    [GeneratedRegex(@"(?<![\w.:])/(?:[\w.@+-]+/)+[\w.@+-]*")]
    private static partial Regex Path();

    /// <summary>An address with a port: IPv4, [IPv6] or a host name followed by :port.</summary>
    [GeneratedRegex(@"(\b\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|\b[a-zA-Z][\w-]*(\.[\w-]+)+|\blocalhost):\d{2,5}\b")]
    private static partial Regex Endpoint();
}

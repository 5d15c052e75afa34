using System.Text.RegularExpressions;
using StackExchange.Redis;

namespace UnleashingTransformers.Silo;

/// <summary>
/// The cluster's redis-server as StackExchange.Redis reads it (<c>host:port</c>, or with options such as
/// <c>,password=...,ssl=true</c>), the password from a file where one is named; and its text for messages,
/// with the password hidden.
/// </summary>
public static partial class RedisEndpoint
{
    public static bool Valid(string text)
    {
        try
        {
            var options = ConfigurationOptions.Parse(text);
            return options.EndPoints.Count > 0 && options.EndPoints.All(e => e switch
            {
                System.Net.DnsEndPoint d => d.Port is > 0 and <= 65535,
                System.Net.IPEndPoint i => i.Port is > 0 and <= 65535,
                _ => false,
            });
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The options for <paramref name="text"/>; <paramref name="passwordFile"/>'s content (trimmed) is the password.</summary>
    public static ConfigurationOptions Options(string text, string passwordFile = "")
    {
        var options = ConfigurationOptions.Parse(text);
        if (!string.IsNullOrEmpty(passwordFile)) options.Password = File.ReadAllText(passwordFile).Trim();
        return options;
    }

    /// <summary>The endpoint as messages and logs show it: host and port, never the password.</summary>
    public static string Redacted(string text) => Password().Replace(text, "password=***");

    [GeneratedRegex("password=[^,]*", RegexOptions.IgnoreCase)]
    private static partial Regex Password();
}

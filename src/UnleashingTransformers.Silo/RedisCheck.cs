using StackExchange.Redis;

namespace UnleashingTransformers.Silo;

/// <summary>An unreachable cluster store, or one that refuses the password, is one line at start, within
/// seconds, not a hang.</summary>
public static class RedisCheck
{
    public static async Task ReachableAsync(ConfigurationOptions endpoint, string setting)
    {
        var options = endpoint.Clone();
        (options.ConnectTimeout, options.AbortOnConnectFail, options.ConnectRetry) = (3000, true, 1);
        var where = string.Join(",", options.EndPoints.Select(e => e.ToString()));
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(options, TextWriter.Null);
            await redis.GetDatabase().PingAsync();
        }
        catch (Exception e) when (Refused(e))
        {
            throw new IOException($"{setting} {where}: redis-server refused the credentials ({(string.IsNullOrEmpty(options.Password) ? "none given" : "wrong password")}): " +
                "give the password it requires (its requirepass) as ,password=... or in Cluster:RedisPasswordFile (ut submit: redis://:PASSWORD@host:port)");
        }
        catch (RedisException e)
        {
            throw new IOException($"{setting} {where}: redis-server is unreachable ({RedisEndpoint.Redacted(e.Message.Split('\n')[0])}): start it there or fix {setting}");
        }
    }

    private static bool Refused(Exception e) =>
        e is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure }
        || e is RedisServerException s && (s.Message.StartsWith("NOAUTH", StringComparison.Ordinal) || s.Message.StartsWith("WRONGPASS", StringComparison.Ordinal))
        || e.InnerException is { } inner && Refused(inner);
}

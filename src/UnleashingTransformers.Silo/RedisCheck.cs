using StackExchange.Redis;

namespace UnleashingTransformers.Silo;

/// <summary>An unreachable cluster store is one line at start, within seconds, not a hang.</summary>
public static class RedisCheck
{
    public static async Task ReachableAsync(string endpoint, string setting)
    {
        var options = ConfigurationOptions.Parse(endpoint);
        (options.ConnectTimeout, options.AbortOnConnectFail, options.ConnectRetry) = (3000, true, 1);
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(options, TextWriter.Null);
            await redis.GetDatabase().PingAsync();
        }
        catch (RedisException e)
        {
            throw new IOException($"{setting} {endpoint}: redis-server is unreachable ({e.Message.Split('\n')[0]}): start it there or fix {setting}");
        }
    }
}

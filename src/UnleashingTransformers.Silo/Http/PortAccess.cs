using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using UnleashingTransformers.Grid;

namespace UnleashingTransformers.Silo.Http;

/// <summary>
/// Which paths each listening port serves and the token it requires. The probes answer on every port,
/// without a token (kubelets send none). The ops port serves <c>/metrics</c> and nothing else; the gateway
/// port the API, the web page and the dashboard. A port with a token requires <c>Authorization: Bearer TOKEN</c>
/// (compared in constant time) for everything but the probes; on the gateway port the cookie <c>ut_token</c>
/// serves too (set by <c>POST /session</c>, HttpOnly): the page's requests and what a browser loads by itself.
/// </summary>
internal static class PortAccess
{
    public static void Use(WebApplication app, SiloConfig config) => app.Use(async (context, next) =>
    {
        var path = context.Request.Path;
        if (path == ProbeEndpoints.Health || path == ProbeEndpoints.Ready)
        {
            await next(context);
            return;
        }
        var onOps = config.Ops.Port > 0 && context.Connection.LocalPort == config.Ops.Port;
        if (onOps != (path == MetricsEndpoint.Path) || !onOps && !config.Has(SiloRoles.Gateway))
        {
            context.Response.StatusCode = 404;
            return;
        }
        // The page's own files hold no data: a browser loads them, then sends the token with what it asks for.
        if (!onOps && GatewayApi.IsPageFile(path))
        {
            await next(context);
            return;
        }
        var (token, key) = onOps ? (config.Ops.Token, "Ops:Token") : (config.Gateway.Token, "Gateway:Token");
        if (string.IsNullOrEmpty(token) || Matches(context.Request.Headers.Authorization.ToString(), token)
            || !onOps && context.Request.Cookies.TryGetValue(BrowserGuards.Cookie, out var cookie) && Matches($"Bearer {cookie}", token))
        {
            await next(context);
            return;
        }
        context.Response.StatusCode = 401;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await context.Response.WriteAsJsonAsync(new { error = $"this port requires Authorization: Bearer <{key}>" }, GatewayApi.Json);
    });

    private static bool Matches(string header, string token) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), Encoding.UTF8.GetBytes($"Bearer {token}"));
}

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using UnleashingTransformers.Grid;

namespace UnleashingTransformers.Silo.Http;

/// <summary>
/// What the gateway port does for browsers: security headers on every response (a Content-Security-Policy with
/// no inline script, no framing, no sniffing); state-changing requests from another site refused (their
/// <c>Origin</c>, or <c>Sec-Fetch-Site: cross-site</c>: CSRF); on a loopback gateway, requests naming another host
/// refused (DNS rebinding); and the token as a cookie the page's script cannot read (<c>POST /session</c> with the
/// token as a bearer sets it HttpOnly and SameSite=Strict, Secure over TLS; <c>DELETE /session</c> drops it).
/// </summary>
internal static class BrowserGuards
{
    public const string SessionPath = "/session";
    public const string Cookie = "ut_token";

    private const string PagePolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static void Use(WebApplication app, SiloConfig config) => app.Use(async (context, next) =>
    {
        var (request, response) = (context.Request, context.Response);
        var onGateway = config.Has(SiloRoles.Gateway) && context.Connection.LocalPort == config.Gateway.Port;
        if (!onGateway)
        {
            await next(context);
            return;
        }
        var headers = response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        // The dashboard is Orleans' own page, with its own inline script: it keeps its script, not its framing.
        headers.ContentSecurityPolicy = request.Path.StartsWithSegments("/dashboard") ? "frame-ancestors 'none'" : PagePolicy;
        if (config.Gateway.OnLoopback && !LoopbackName(request.Host.Host))
        {
            await Refuse(context, 421, $"this gateway serves {config.Gateway.Host} only: a request for {request.Host.Host} is refused (DNS rebinding)");
            return;
        }
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method) && CrossSite(request))
        {
            await Refuse(context, 403, "a state-changing request from another site is refused (its Origin is not this gateway)");
            return;
        }
        await next(context);
    });

    /// <summary><c>POST /session</c> and <c>DELETE /session</c> (behind <see cref="PortAccess"/>: the POST carries the token).</summary>
    public static void MapSession(WebApplication app, SiloConfig config)
    {
        app.MapPost(SessionPath, (HttpContext context) =>
        {
            var token = context.Request.Headers.Authorization.ToString();
            const string bearer = "Bearer ";
            if (string.IsNullOrEmpty(config.Gateway.Token) || !token.StartsWith(bearer, StringComparison.Ordinal))
                return GatewayApi.Error(400, "this gateway needs no session: it has no token");
            context.Response.Cookies.Append(Cookie, token[bearer.Length..], new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, Path = "/", IsEssential = true,
            });
            return Results.NoContent();
        });
        app.MapDelete(SessionPath, (HttpContext context) =>
        {
            context.Response.Cookies.Delete(Cookie, new CookieOptions { Path = "/", SameSite = SameSiteMode.Strict, HttpOnly = true });
            return Results.NoContent();
        });
    }

    private static bool CrossSite(HttpRequest request)
    {
        if (request.Headers["Sec-Fetch-Site"] == "cross-site") return true;
        var origin = request.Headers.Origin.ToString();
        return origin.Length > 0 && !string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
    }

    private static bool LoopbackName(string host) =>
        host is "localhost" || System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip);

    private static Task Refuse(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { error = message }, GatewayApi.Json);
    }
}

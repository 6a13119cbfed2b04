using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http1;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// Writes the HTTP/1.1 request head that <see cref="RequestMessageFactory"/> and SocketsHttpHandler
/// together would put on the wire, straight from Kestrel's request into a <see cref="HeadBuilder"/>:
/// the same steps (1)–(6) and the same header rules, without a request message, a Uri or header
/// collections. Where the two would differ only in form (header order) this follows the handler's
/// values, not its order.
/// </summary>
internal static class UpstreamRequestHead
{
    /// <summary>Path and query characters that <see cref="Uri"/> passes through unchanged; anything else (and every '%') goes through a Uri.</summary>
    private static readonly SearchValues<char> PlainTarget = SearchValues.Create(
        "!$&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~");

    /// <summary>Bytes that would end or forge a header line. Kestrel refuses them in request headers; this is the second lock.</summary>
    private static readonly SearchValues<char> LineBreaking = SearchValues.Create("\r\n\0");

    /// <summary>How the body follows the head.</summary>
    public enum Framing
    {
        None,
        ContentLength,
        Chunked,
    }

    /// <summary>Writes the head; <paramref name="expectsContinue"/>: it carries <c>Expect: 100-continue</c>, so the upstream may answer 100 before the body.</summary>
    /// <param name="operations">The request header operations of the route and the picked destination.</param>
    /// <param name="endpoint">The endpoint, whose authority stands in for a missing Host; null for a mirror copy.</param>
    /// <param name="authority">Replaces the Host when given: a mirror's shadow host.</param>
    public static Framing Write(
        HeadBuilder head, KestrelExchange exchange, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, EndpointState? endpoint,
        string? authority, out bool expectsContinue)
    {
        expectsContinue = false;
        var context = exchange.Context;
        var request = context.Request;
        var headers = request.Headers;
        head.Clear();

        // (1)(2) Request line. PathString re-escapes what Kestrel decoded (and leaves %2F alone), as YARP does.
        head.Append(request.Method);
        head.Append(" "u8);
        var path = new PathString(route.RewritePath(request.Path.HasValue ? request.Path.Value! : "/", matched)).ToUriComponent();
        var query = request.QueryString.Value;
        if (path.AsSpan().IndexOfAnyExcept(PlainTarget) < 0 && (string.IsNullOrEmpty(query) || query.AsSpan().IndexOfAnyExcept(PlainTarget) < 0))
        {
            head.Append(path);
            head.Append(query ?? string.Empty);
        }
        else
        {
            // Escapes, brackets, quotes, a stray '%': the rare target Uri would normalise, so let it
            // (as it does on the handler path) rather than re-implement its rules.
            head.Append(new Uri(string.Concat(endpoint?.Origin ?? "http://localhost", path, query), UriKind.Absolute).PathAndQuery);
        }

        head.Append(" HTTP/1.1\r\n"u8);

        // (5) Host first, as the handler writes it; without one, the endpoint's authority, as the handler does.
        // HTTP/1.1 requires a Host (RFC 9112 §3.2), so a route's remove cannot drop it (Envoy refuses Host
        // in header operations; the authority rewrite is how a route changes it); a set replaces it below.
        var host = headers.Host.ToString();
        var upstreamHost = authority ?? route.RewriteAuthority ?? host;
        if (!IsSet(operations, HeaderNames.Host))
        {
            head.Append("Host: "u8);
            head.Append(upstreamHost.Length > 0 || endpoint is null ? upstreamHost : DefaultAuthority(endpoint));
            head.AppendCrLf();
        }

        // (3) Kestrel knows whether a body can follow (Content-Length > 0, chunked, or an HTTP/2 stream
        // without END_STREAM); the handler sends Content-Length: 0 for a bodiless request whose method
        // normally has a body.
        var framing = Framing.None;
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            var length = request.ContentLength;
            framing = length is null ? Framing.Chunked : Framing.ContentLength;
            if (length is { } known)
            {
                head.Append("Content-Length: "u8);
                head.Append(known);
                head.AppendCrLf();
            }
            else
            {
                head.Append("Transfer-Encoding: chunked\r\n"u8);
            }
        }
        else if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsConnect(request.Method)
            && !HttpMethods.IsOptions(request.Method) && !HttpMethods.IsDelete(request.Method))
        {
            head.Append("Content-Length: 0\r\n"u8);
        }

        // (4)(6) End-to-end headers, minus hop-by-hop ones; a route's add operation joins the client's values on one line.
        var connection = headers.Connection;
        Span<bool> merged = stackalloc bool[operations?.Add.Length ?? 0];
        foreach (var (name, values) in headers)
        {
            if (name.Length == 0 || name[0] == ':' || Skip(name) || HopByHopHeaders.IsNamedByConnection(connection, name)
                || Replaced(operations, name) || !IsSafe(values))
            {
                continue;
            }

            head.Append(name);
            head.Append(": "u8);
            var separator = Separator(name);
            for (var i = 0; i < values.Count; i++)
            {
                if (i > 0)
                {
                    head.Append(separator);
                }

                head.Append(values[i] ?? string.Empty);
                expectsContinue |= IsContinue(name, values[i]);
            }

            if (operations is not null)
            {
                for (var i = 0; i < operations.Add.Length; i++)
                {
                    if (operations.Add[i].Key.Equals(name, StringComparison.OrdinalIgnoreCase))
                    {
                        merged[i] = true;
                        head.Append(values.Count > 0 ? separator : string.Empty);
                        head.Append(operations.Add[i].Value);
                    }
                }
            }

            head.AppendCrLf();
        }

        if (HopByHopHeaders.AcceptsTrailers(headers.TE))
        {
            head.Append("TE: trailers\r\n"u8);
        }

        // (5)
        var clientIp = context.Connection.RemoteIpAddress?.ToString();
        if (clientIp is not null && !Replaced(operations, "X-Forwarded-For"))
        {
            head.Append("X-Forwarded-For: "u8);
            var existing = headers["X-Forwarded-For"];
            if (existing.Count > 0 && IsSafe(existing))
            {
                for (var i = 0; i < existing.Count; i++)
                {
                    head.Append(i == 0 ? string.Empty : ",");
                    head.Append(existing[i] ?? string.Empty);
                }

                head.Append(", "u8);
            }

            head.Append(clientIp);
            head.AppendCrLf();
        }

        if (!headers.ContainsKey("X-Forwarded-Proto") && !Replaced(operations, "X-Forwarded-Proto"))
        {
            head.AppendHeader("X-Forwarded-Proto", request.Scheme);
        }

        if (!headers.ContainsKey("X-Forwarded-Host") && host.Length > 0 && !Replaced(operations, "X-Forwarded-Host"))
        {
            head.AppendHeader("X-Forwarded-Host", host);
        }

        if (!headers.ContainsKey("X-Request-Id") && !Replaced(operations, "X-Request-Id"))
        {
            head.AppendHeader("X-Request-Id", exchange.RequestId());
        }

        // (6)
        if (operations is not null)
        {
            foreach (var (name, value) in operations.Set)
            {
                if (!IsFraming(name))
                {
                    head.AppendHeader(name, value);
                    expectsContinue |= IsContinue(name, value);
                }
            }

            for (var i = 0; i < operations.Add.Length; i++)
            {
                if (!merged[i] && !IsFraming(operations.Add[i].Key))
                {
                    head.AppendHeader(operations.Add[i].Key, operations.Add[i].Value);
                    expectsContinue |= IsContinue(operations.Add[i].Key, operations.Add[i].Value);
                }
            }
        }

        head.AppendCrLf();
        expectsContinue &= framing != Framing.None;
        return framing;
    }

    private static bool IsContinue(string name, string? value) =>
        name.Equals(HeaderNames.Expect, StringComparison.OrdinalIgnoreCase) && value is not null && value.Contains("100-continue", StringComparison.OrdinalIgnoreCase);

    /// <summary>What the handler writes without a Host header: the endpoint's host, and its port unless it is 80.</summary>
    private static string DefaultAuthority(EndpointState endpoint)
    {
        var authority = endpoint.Origin.AsSpan("http://".Length);
        return authority.EndsWith(":80", StringComparison.Ordinal) ? authority[..^3].ToString() : authority.ToString();
    }

    /// <summary>
    /// Hop-by-hop headers; Host and X-Forwarded-For, which are rebuilt; Content-Length, which the
    /// framing above carries. Upgrades never come here (they stay on the handler path).
    /// </summary>
    private static bool Skip(string name) =>
        HopByHopHeaders.IsHopByHop(name)
        || name.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase)
        || name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase)
        || name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase);

    /// <summary>The framing is the body's, whatever a route's operations say (as on the fast path).</summary>
    private static bool IsFraming(string name) =>
        name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the route's operations set (and so replace) this header.</summary>
    private static bool IsSet(HeaderOperations? operations, string name)
    {
        if (operations is not null)
        {
            foreach (var (set, _) in operations.Set)
            {
                if (set.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Whether the route's operations remove or set (and so replace) this header.</summary>
    private static bool Replaced(HeaderOperations? operations, string name)
    {
        if (operations is null)
        {
            return false;
        }

        foreach (var remove in operations.Remove)
        {
            if (remove.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        foreach (var (set, _) in operations.Set)
        {
            if (set.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>How the handler joins several values of one header: Cookie with "; " (RFC 6265 §5.4), User-Agent with a space, the rest with ", ".</summary>
    private static string Separator(string name) =>
        name.Equals(HeaderNames.Cookie, StringComparison.OrdinalIgnoreCase) ? "; "
        : name.Equals(HeaderNames.UserAgent, StringComparison.OrdinalIgnoreCase) ? " "
        : ", ";

    private static bool IsSafe(StringValues values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is { } value && value.AsSpan().IndexOfAny(LineBreaking) >= 0)
            {
                return false;
            }
        }

        return true;
    }
}

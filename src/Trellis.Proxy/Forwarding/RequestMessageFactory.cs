using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// Builds the upstream request from the downstream one. Steps:
/// (1) target URI = endpoint origin + (rewritten) path + raw query;
/// (2) method and HTTP version of the cluster, exact, so HTTP/2 clusters get h2c prior knowledge;
/// (3) body, streamed, only when the request can have one;
/// (4) end-to-end headers copied, hop-by-hop headers dropped;
/// (5) Host, x-forwarded-*, x-request-id; (6) the route's request header operations.
/// </summary>
internal sealed class RequestMessageFactory
{
    public HttpRequestMessage Create(KestrelExchange exchange, Pipeline.Attempt attempt, bool isUpgrade, int copyBufferSize, out StreamingRequestContent? content)
    {
        var context = exchange.Context;
        var (route, matched, cluster, endpoint) = (attempt.Route, attempt.Matched, attempt.Cluster, attempt.Endpoint);
        var request = context.Request;

        // (1) PathString re-escapes what Kestrel decoded (and leaves %2F alone), as YARP does.
        var path = route.RewritePath(request.Path.HasValue ? request.Path.Value! : "/", matched);
        var uri = new Uri(string.Concat(endpoint.Origin, new PathString(path).ToUriComponent(), request.QueryString.Value), UriKind.Absolute);

        // (2) Upgrades exist only in HTTP/1.1, whatever the cluster speaks.
        var message = new HttpRequestMessage(HttpMethod.Parse(request.Method), uri)
        {
            Version = cluster.Protocol == UpstreamProtocol.Http2 && !isUpgrade ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        // (3) Kestrel knows whether a body can follow (Content-Length > 0, chunked, or an HTTP/2 stream
        // without END_STREAM); a GET without either gets no content and so no Transfer-Encoding.
        content = null;
        if (!isUpgrade && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            content = new StreamingRequestContent(
                exchange.BodyForAttempt(), request.ContentLength, StreamCopier.BufferSizeFor(request.ContentLength, copyBufferSize));
            message.Content = content;
        }

        // (4)
        var headers = request.Headers;
        var connection = headers.Connection;
        foreach (var header in headers)
        {
            var name = header.Key;
            if (name.Length == 0 || name[0] == ':' || SkipRequestHeader(name, isUpgrade) || HopByHopHeaders.IsNamedByConnection(connection, name))
            {
                continue;
            }

            AddHeader(message, name, header.Value);
        }

        if (HopByHopHeaders.AcceptsTrailers(headers.TE))
        {
            message.Headers.TryAddWithoutValidation(HeaderNames.TE, "trailers");
        }

        if (isUpgrade)
        {
            message.Headers.TryAddWithoutValidation(HeaderNames.Connection, "Upgrade");
            message.Headers.TryAddWithoutValidation(HeaderNames.Upgrade, (IEnumerable<string?>)headers.Upgrade);
        }

        // (5) The upstream sees the authority the client asked for (or the route's rewrite), not the endpoint address.
        var host = headers.Host.ToString();
        var upstreamHost = route.RewriteAuthority ?? host;
        if (upstreamHost.Length > 0)
        {
            message.Headers.Host = upstreamHost;
        }

        var clientIp = context.Connection.RemoteIpAddress?.ToString();
        if (clientIp is not null)
        {
            var existing = headers["X-Forwarded-For"];
            message.Headers.TryAddWithoutValidation("X-Forwarded-For", existing.Count == 0 ? clientIp : string.Concat(existing.ToString(), ", ", clientIp));
        }

        if (!headers.ContainsKey("X-Forwarded-Proto"))
        {
            message.Headers.TryAddWithoutValidation("X-Forwarded-Proto", request.Scheme);
        }

        if (!headers.ContainsKey("X-Forwarded-Host") && host.Length > 0)
        {
            message.Headers.TryAddWithoutValidation("X-Forwarded-Host", host);
        }

        if (!headers.ContainsKey("X-Request-Id"))
        {
            message.Headers.TryAddWithoutValidation("X-Request-Id", exchange.RequestId());
        }

        // (6)
        if (route.RequestHeadersFor(attempt.Destination) is { } operations)
        {
            Apply(message, operations);
        }

        return message;
    }

    private static bool SkipRequestHeader(string name, bool isUpgrade)
    {
        if (HopByHopHeaders.IsHopByHop(name))
        {
            // Upgrade is hop-by-hop but is the whole point of an upgrade request; it is re-added above.
            return true;
        }

        // Host and X-Forwarded-For are rebuilt; Content-Length is carried by the streamed content itself.
        return name.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase)
            || name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase)
            || name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase);
    }

    private static void AddHeader(HttpRequestMessage message, string name, StringValues values)
    {
        var added = values.Count == 1
            ? message.Headers.TryAddWithoutValidation(name, values[0])
            : message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        if (!added && message.Content is not null)
        {
            // Content-Type, Content-Encoding and friends belong to the content's header collection.
            _ = values.Count == 1
                ? message.Content.Headers.TryAddWithoutValidation(name, values[0])
                : message.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
    }

    private static void Apply(HttpRequestMessage message, HeaderOperations operations)
    {
        foreach (var name in operations.Remove)
        {
            message.Headers.Remove(name);
            message.Content?.Headers.Remove(name);
        }

        foreach (var (name, value) in operations.Set)
        {
            message.Headers.Remove(name);
            message.Content?.Headers.Remove(name);
            AddHeader(message, name, value);
        }

        foreach (var (name, value) in operations.Add)
        {
            AddHeader(message, name, value);
        }
    }
}

using Microsoft.AspNetCore.Http;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Http1;

/// <summary>What a client's request contributes to its upstream head beyond the parsed head itself.</summary>
/// <param name="Host">The authority the client asked for (routing's).</param>
/// <param name="Path">The path as routing read it, which a rewrite replaces (decoded on the Kestrel path).</param>
/// <param name="ClientIp">Appended to X-Forwarded-For; empty when unknown.</param>
/// <param name="Scheme">X-Forwarded-Proto when the client sent none.</param>
/// <param name="RequestIds">The request's x-request-id when it has none (one per request: retries and mirrors share it).</param>
/// <param name="Upgrade">An upgrade request (WebSocket): its Connection and Upgrade fields go upstream too.</param>
/// <param name="FallbackAuthority">The Host when the client sent none (the endpoint's authority, as SocketsHttpHandler writes it).</param>
/// <param name="Telemetry">The exchange's telemetry: the metadata-exchange fields a client-side listener adds; null for none.</param>
internal readonly record struct ClientRequest(
    string Host, string Path, string ClientIp, string Scheme, Func<string> RequestIds, bool Upgrade = false, string? FallbackAuthority = null,
    Telemetry.ExchangeTelemetry? Telemetry = null);

/// <summary>
/// Writes the HTTP/1.1 head every path sends upstream, from a parsed client head: the HTTP/1.1 fast path's own,
/// the one the HTTP/2 fast path assembles from a stream's fields, and the one the Kestrel path writes from
/// Kestrel's request (<c>KestrelRequestHead</c>). The forwarding rules live here and only here: hop-by-hop fields
/// dropped (and those Connection names), Host or its rewrite, <c>x-forwarded-*</c>, <c>x-request-id</c>,
/// <c>TE: trailers</c>, Cookie fields joined with <c>; </c>, Istio's metadata-exchange fields (the client's never pass, a
/// client-side listener adds its own), the trace context of this hop in place of the client's, and the route's and destination's header operations.
/// An HTTP/2 upstream gets the same head, translated field by field (<c>RequestMessageFactory</c>).
/// </summary>
internal static class UpstreamHeadWriter
{
    /// <summary>The upstream request head for <paramref name="head"/> (parsed from <paramref name="buffer"/>).</summary>
    /// <param name="operations">The request header operations of the route and the picked destination (<see cref="CompiledRoute.RequestHeadersFor"/>).</param>
    /// <param name="authority">Replaces the Host (after the route's authority rewrite) when given: a mirror's shadow host.</param>
    public static void Write(
        HeadBuilder output, RequestHead head, ReadOnlySpan<byte> buffer, in ClientRequest client, CompiledRoute route, CompiledMatch? matched,
        HeaderOperations? operations, string? authority = null)
    {
        var host = client.Host;
        output.Clear();
        output.Append(buffer[..head.MethodLength]);
        output.Append(" "u8);
        if (!route.RewritesPath)
        {
            output.Append(head.Target(buffer));
        }
        else
        {
            output.Append(new PathString(route.RewritePath(client.Path, matched)).ToUriComponent());
            output.Append(head.Query(buffer));
        }

        output.Append(" HTTP/1.1\r\n"u8);
        var upstreamHost = authority ?? route.RewriteAuthority ?? host;
        if (upstreamHost.Length == 0)
        {
            upstreamHost = client.FallbackAuthority ?? string.Empty;
        }

        // A route that sets Host replaces this one (its value comes with the other set operations);
        // one that removes it does not: an HTTP/1.1 request always carries a Host (RFC 9112 §3.2).
        if (upstreamHost.Length > 0 && !SetsHost(operations))
        {
            output.AppendHeader("Host", upstreamHost);
        }

        var hasForwardedFor = false;
        var cookieWritten = false;
        var namesHeaders = head.Fields.IndexOf(FieldKind.Connection) >= 0; // rare: checked once, not per field
        bool hasProto = false, hasForwardedHost = false, hasRequestId = false, acceptsTrailers = false;
        var tracing = client.Telemetry is { Trace.IsValid: true };
        var fields = head.Fields.AsSpan();
        foreach (var field in fields)
        {
            var name = field.Name(buffer);
            switch (field.Kind)
            {
                case FieldKind.XForwardedFor:
                    hasForwardedFor = true;
                    continue;
                case FieldKind.Te:
                    acceptsTrailers |= HeadSyntax.ListContains(field.Value(buffer), "trailers"u8);
                    continue;
                case FieldKind.Host:
                case FieldKind.PeerMetadata:
                    continue;
                case FieldKind.TraceContext when tracing:
                    continue;
                case FieldKind.XForwardedProto:
                    hasProto = true;
                    break;
                case FieldKind.XForwardedHost:
                    hasForwardedHost = true;
                    break;
                case FieldKind.XRequestId:
                    hasRequestId = true;
                    break;
                case FieldKind.ContentLength:
                    // The framing of the body that follows: never dropped (the parser hands off a
                    // Connection that names it; a route operation must not cut it either).
                    output.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
                    output.AppendCrLf();
                    continue;
            }

            if (field.IsHopByHop || (operations is not null && Replaced(operations, name)) || (namesHeaders && head.Fields.IsNamedByConnection(buffer, name)))
            {
                continue;
            }

            if (field.Kind == FieldKind.Cookie)
            {
                // Several Cookie fields go upstream as one, joined with "; " (RFC 6265 §5.4), as on the Kestrel path.
                if (!cookieWritten)
                {
                    AppendCookies(output, head, buffer);
                    cookieWritten = true;
                }

                continue;
            }

            output.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
            output.AppendCrLf();
        }

        if (acceptsTrailers)
        {
            output.Append("TE: trailers\r\n"u8);
        }

        if (head.Chunked)
        {
            output.Append("Transfer-Encoding: chunked\r\n"u8); // hop-by-hop, but the body is relayed as framed
        }

        if (client.Upgrade && head.Fields.IndexOf(FieldKind.Upgrade) is >= 0 and var upgrade)
        {
            output.Append("Connection: Upgrade\r\nUpgrade: "u8); // hop-by-hop, but what an upgrade asks of the next hop
            output.Append(head.Fields[upgrade].Value(buffer));
            output.AppendCrLf();
        }

        var clientIp = client.ClientIp;
        if (clientIp.Length > 0 && !(operations is not null && Replaced(operations, "X-Forwarded-For"u8)))
        {
            output.Append("X-Forwarded-For: "u8);
            if (hasForwardedFor)
            {
                var first = true;
                foreach (var field in fields)
                {
                    if (field.Kind == FieldKind.XForwardedFor)
                    {
                        if (!first)
                        {
                            output.Append(","u8);
                        }

                        output.Append(field.Value(buffer));
                        first = false;
                    }
                }

                output.Append(", "u8);
            }

            output.Append(clientIp);
            output.AppendCrLf();
        }

        if (!hasProto && !(operations is not null && Replaced(operations, "X-Forwarded-Proto"u8)))
        {
            output.AppendHeader("X-Forwarded-Proto", client.Scheme);
        }

        if (!hasForwardedHost && host.Length > 0 && !(operations is not null && Replaced(operations, "X-Forwarded-Host"u8)))
        {
            output.AppendHeader("X-Forwarded-Host", host);
        }

        if (!hasRequestId && !(operations is not null && Replaced(operations, "X-Request-Id"u8)))
        {
            output.AppendHeader("X-Request-Id", client.RequestIds());
        }

        if (client.Telemetry?.PeerHeader is { } peer)
        {
            output.AppendHeader(Telemetry.PeerMetadata.Header, peer);
            output.AppendHeader(Telemetry.PeerMetadata.IdHeader, client.Telemetry.PeerIdHeader!);
        }

        if (tracing)
        {
            var telemetry = client.Telemetry!;
            Telemetry.Tracing.TracePropagation.Write(output, telemetry.Trace, telemetry.ParentSpan, telemetry.TraceState);
        }

        if (operations is not null)
        {
            AppendOperations(output, operations);
        }

        output.AppendCrLf();
    }

    private static void AppendCookies(HeadBuilder output, RequestHead head, ReadOnlySpan<byte> buffer)
    {
        output.Append("Cookie: "u8);
        var separator = false;
        foreach (var field in head.Fields.AsSpan())
        {
            if (field.Kind == FieldKind.Cookie)
            {
                if (separator)
                {
                    output.Append("; "u8);
                }

                output.Append(field.Value(buffer));
                separator = true;
            }
        }

        output.AppendCrLf();
    }

    private static bool SetsHost(HeaderOperations? operations)
    {
        if (operations is null)
        {
            return false;
        }

        foreach (var (name, _) in operations.Set)
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the route's header operations remove or set (and so replace) this field.</summary>
    public static bool Replaced(HeaderOperations operations, ReadOnlySpan<byte> name)
    {
        foreach (var remove in operations.Remove)
        {
            if (HeaderFields.NameEquals(name, remove))
            {
                return true;
            }
        }

        foreach (var (set, _) in operations.Set)
        {
            if (HeaderFields.NameEquals(name, set))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Set values, then added ones, each a field line of its own after the client's fields of the name, as Envoy
    /// appends them (what the Gateway API's conformance suite checks; a second line means the same as a comma list).
    /// </summary>
    public static void AppendOperations(HeadBuilder output, HeaderOperations operations)
    {
        foreach (var (name, value) in operations.Set)
        {
            output.AppendHeader(name, value);
        }

        foreach (var (name, value) in operations.Add)
        {
            output.AppendHeader(name, value);
        }
    }
}

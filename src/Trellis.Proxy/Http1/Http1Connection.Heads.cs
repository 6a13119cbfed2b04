using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http1;

/// <summary>(3)/(4) The heads the fast path writes: upstream request heads and client response heads.</summary>
internal sealed partial class Http1Connection
{
    /// <summary>(3) The upstream request head, built from the client's: see <see cref="RequestMessageFactory"/> for the Kestrel path's rules, which this follows.</summary>
    private void WriteUpstreamHead(CompiledRoute route, CompiledMatch? matched, string host, string path)
    {
        var buffer = _in.AsSpan(0, _head.Length);
        _out.Clear();
        _out.Append(buffer[.._head.MethodLength]);
        _out.Append(" "u8);
        if (route.RewriteUriPrefix is null)
        {
            _out.Append(_head.Target(buffer));
        }
        else
        {
            _out.Append(new PathString(route.RewritePath(path, matched)).ToUriComponent());
            _out.Append(_head.Query(buffer));
        }

        _out.Append(" HTTP/1.1\r\n"u8);
        var upstreamHost = route.RewriteAuthority ?? host;
        if (upstreamHost.Length > 0)
        {
            _out.AppendHeader("Host", upstreamHost);
        }

        var operations = route.RequestHeaders;
        Span<bool> merged = stackalloc bool[operations?.Add.Length ?? 0];
        var hasForwardedFor = false;
        var cookieWritten = false;
        var namesHeaders = _head.Fields.IndexOf(FieldKind.Connection) >= 0; // rare: checked once, not per field
        bool hasProto = false, hasForwardedHost = false, hasRequestId = false, acceptsTrailers = false;
        var fields = _head.Fields.AsSpan();
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
                    _out.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
                    _out.AppendCrLf();
                    continue;
            }

            if (field.IsHopByHop || (operations is not null && Replaced(operations, name)) || (namesHeaders && _head.Fields.IsNamedByConnection(buffer, name)))
            {
                continue;
            }

            if (field.Kind == FieldKind.Cookie)
            {
                // Several Cookie fields go upstream as one, joined with "; " (RFC 6265 §5.4), as on the Kestrel path.
                if (!cookieWritten)
                {
                    AppendCookies(buffer);
                    cookieWritten = true;
                }

                continue;
            }

            if (operations is not null && AddsTo(operations, name, merged, out var first))
            {
                // The Kestrel path's upstream request carries a header and its added values on one line ("first, second").
                if (first)
                {
                    AppendMerged(operations, name, buffer, merged);
                }

                continue;
            }

            _out.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
            _out.AppendCrLf();
        }

        if (acceptsTrailers)
        {
            _out.Append("TE: trailers\r\n"u8);
        }

        if (_head.Chunked)
        {
            _out.Append("Transfer-Encoding: chunked\r\n"u8); // hop-by-hop, but the body is relayed as framed
        }

        if (_clientIp.Length > 0)
        {
            _out.Append("X-Forwarded-For: "u8);
            if (hasForwardedFor)
            {
                var first = true;
                foreach (var field in fields)
                {
                    if (field.Kind == FieldKind.XForwardedFor)
                    {
                        if (!first)
                        {
                            _out.Append(","u8);
                        }

                        _out.Append(field.Value(buffer));
                        first = false;
                    }
                }

                _out.Append(", "u8);
            }

            _out.Append(_clientIp);
            _out.AppendCrLf();
        }

        if (!hasProto)
        {
            _out.Append("X-Forwarded-Proto: http\r\n"u8);
        }

        if (!hasForwardedHost && host.Length > 0)
        {
            _out.AppendHeader("X-Forwarded-Host", host);
        }

        if (!hasRequestId)
        {
            _out.AppendHeader("X-Request-Id", _services.Options.RequestIdGenerator());
        }

        if (operations is not null)
        {
            AppendOperations(operations, merged);
        }

        _out.AppendCrLf();
    }

    private void AppendCookies(ReadOnlySpan<byte> buffer)
    {
        _out.Append("Cookie: "u8);
        var separator = false;
        foreach (var field in _head.Fields.AsSpan())
        {
            if (field.Kind == FieldKind.Cookie)
            {
                if (separator)
                {
                    _out.Append("; "u8);
                }

                _out.Append(field.Value(buffer));
                separator = true;
            }
        }

        _out.AppendCrLf();
    }

    /// <summary>Whether an add operation names this field; <paramref name="first"/> when no field of the name was written yet.</summary>
    private static bool AddsTo(HeaderOperations operations, ReadOnlySpan<byte> name, Span<bool> merged, out bool first)
    {
        for (var i = 0; i < operations.Add.Length; i++)
        {
            if (HeaderFields.NameEquals(name, operations.Add[i].Key))
            {
                first = !merged[i];
                return true;
            }
        }

        first = false;
        return false;
    }

    /// <summary>One line: every client field of the name, then every value added to it.</summary>
    private void AppendMerged(HeaderOperations operations, ReadOnlySpan<byte> name, ReadOnlySpan<byte> buffer, Span<bool> merged)
    {
        _out.Append(name);
        _out.Append(": "u8);
        var separator = false;
        foreach (var field in _head.Fields.AsSpan())
        {
            if (field.Name(buffer).Length == name.Length && System.Text.Ascii.EqualsIgnoreCase(field.Name(buffer), name))
            {
                AppendListItem(field.Value(buffer), ref separator);
            }
        }

        for (var i = 0; i < operations.Add.Length; i++)
        {
            if (HeaderFields.NameEquals(name, operations.Add[i].Key))
            {
                merged[i] = true;
                _out.Append(separator ? ", " : string.Empty);
                _out.Append(operations.Add[i].Value);
                separator = true;
            }
        }

        _out.AppendCrLf();
    }

    private void AppendListItem(ReadOnlySpan<byte> value, ref bool separator)
    {
        if (separator)
        {
            _out.Append(", "u8);
        }

        _out.Append(value);
        separator = true;
    }

    /// <summary>(4) The client's response head: the upstream's fields minus hop-by-hop ones, with the route's operations.</summary>
    private void WriteResponseHead(ResponseHead head, ReadOnlySpan<byte> buffer, CompiledRoute route, bool chunked, bool keepAlive)
    {
        _out.Clear();
        _out.Append(ResponseDate.StatusLine(head.Status));
        var operations = route.ResponseHeaders;
        var hasDate = false;
        var namesHeaders = head.Fields.IndexOf(FieldKind.Connection) >= 0;
        foreach (var field in head.Fields.AsSpan())
        {
            var name = field.Name(buffer);
            // A Content-Length that frames the relayed body stays whatever Connection or the route's operations say.
            var framing = field.Kind == FieldKind.ContentLength && !chunked;
            if (field.IsHopByHop || (field.Kind == FieldKind.ContentLength && chunked)
                || (!framing && ((namesHeaders && head.Fields.IsNamedByConnection(buffer, name)) || (operations is not null && Replaced(operations, name)))))
            {
                continue;
            }

            hasDate |= field.Kind == FieldKind.Date;
            _out.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
            _out.AppendCrLf();
        }

        if (operations is not null)
        {
            AppendOperations(operations, []);
        }

        if (!hasDate)
        {
            _out.Append(_services.Date.HeaderLine(_services.Time.GetUtcNow()));
        }

        if (chunked)
        {
            _out.Append("Transfer-Encoding: chunked\r\n"u8);
        }

        if (!keepAlive)
        {
            _out.Append("Connection: close\r\n"u8);
        }

        _out.AppendCrLf();
    }

    /// <summary>Whether the route's header operations remove or set (and so replace) this field.</summary>
    private static bool Replaced(HeaderOperations operations, ReadOnlySpan<byte> name)
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

    /// <summary>Set values, then added values not already merged into a field (<paramref name="merged"/>, empty for responses).</summary>
    private void AppendOperations(HeaderOperations operations, ReadOnlySpan<bool> merged)
    {
        foreach (var (name, value) in operations.Set)
        {
            _out.AppendHeader(name, value);
        }

        for (var i = 0; i < operations.Add.Length; i++)
        {
            if (merged.IsEmpty || !merged[i])
            {
                _out.AppendHeader(operations.Add[i].Key, operations.Add[i].Value);
            }
        }
    }
}

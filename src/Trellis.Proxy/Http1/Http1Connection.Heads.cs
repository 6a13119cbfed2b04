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
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http1;

/// <summary>(3)/(4) The heads the fast path writes: upstream request heads and client response heads.</summary>
internal sealed partial class Http1Connection
{
    /// <summary>(3) The upstream request head, built from the client's (see <see cref="UpstreamHeadWriter"/>); <paramref name="authority"/> replaces the Host when given (mirrors).</summary>
    private void WriteUpstreamHead(HeadBuilder output, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, string? authority) =>
        UpstreamHeadWriter.Write(
            output, _head, _in.AsSpan(0, _head.Length), new ClientRequest(_request.Authority, _request.Path, _clientIp, "http", _requestIds ??= RequestId, Telemetry: _telemetry),
            route, matched, operations, authority);

    /// <summary>(4) The client's response head: the upstream's fields minus hop-by-hop ones, with the route's operations.</summary>
    private void WriteResponseHead(ResponseHead head, ReadOnlySpan<byte> buffer, ResponseEdits edits, bool chunked, bool keepAlive)
    {
        _out.Clear();
        _out.Append(ResponseDate.StatusLine(head.Status));
        var hasDate = false;
        var namesHeaders = head.Fields.IndexOf(FieldKind.Connection) >= 0;
        foreach (var field in head.Fields.AsSpan())
        {
            if (!ResponseFields.Forwards(field, head.Fields, buffer, edits, rechunked: chunked, namesHeaders))
            {
                continue;
            }

            hasDate |= field.Kind == FieldKind.Date;
            _out.Append(buffer.Slice(field.LineStart, field.ValueStart + field.ValueLength - field.LineStart));
            _out.AppendCrLf();
        }

        foreach (var (name, value) in edits)
        {
            _out.AppendHeader(name, value);
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
}

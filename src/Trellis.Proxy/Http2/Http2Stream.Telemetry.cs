using Trellis.Proxy.Http1;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http2;

/// <summary>What the HTTP/2 fast path counts for telemetry: the request's and the response's bytes, the response's gRPC status.</summary>
internal sealed partial class Http2Stream
{
    private readonly ExchangeTelemetry _telemetry = new();

    /// <summary>
    /// Sizes count the request as its HTTP/1.1 head (the fields uncompressed, as Envoy's <c>request.total_size</c>)
    /// with the DATA received, and the response as the header blocks and DATA sent.
    /// </summary>
    public ExchangeTelemetry Telemetry
    {
        get
        {
            _telemetry.RequestBytes = _head.Written.Length + Volatile.Read(ref _received);
            return _telemetry;
        }
    }

    /// <summary>A header block (HEADERS and its CONTINUATIONs) or DATA went to the client.</summary>
    private void CountSent(int bytes) => _telemetry.ResponseBytes += bytes;

    /// <summary>A response head's <c>grpc-status</c> (a trailers-only gRPC answer).</summary>
    private void ReadGrpcStatus(ResponseHead head, ReadOnlySpan<byte> buffer)
    {
        var index = head.Fields.IndexOf(buffer, "grpc-status");
        if (index >= 0)
        {
            _telemetry.SetGrpcStatus(head.Fields[index].Value(buffer));
        }
    }
}

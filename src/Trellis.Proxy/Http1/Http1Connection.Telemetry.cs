using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Http1;

/// <summary>What the fast path counts for telemetry: the request's and the response's bytes, the response's gRPC status.</summary>
internal sealed partial class Http1Connection
{
    private readonly ExchangeTelemetry _telemetry = new();

    public ExchangeTelemetry Telemetry => _telemetry;

    /// <summary>Every byte of a response goes to the client through here, so that its size is counted once.</summary>
    private ValueTask SendToClientAsync(ReadOnlyMemory<byte> bytes)
    {
        _telemetry.ResponseBytes += bytes.Length;
        return _transport.SendAsync(bytes, CancellationToken.None);
    }

    /// <summary>A new request: its head and the body bytes read with it so far.</summary>
    private void StartTelemetry()
    {
        _telemetry.Reset();
        CountRequestInBuffer();
    }

    /// <summary>The head and the body in the input buffer (more of the body may be read into it before it is sent).</summary>
    private void CountRequestInBuffer() => _telemetry.RequestBytes = _head.Length + _bodyInBuffer;

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

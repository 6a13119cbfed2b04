using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// What telemetry keeps of the request an engine is serving: read from the request head when the pipeline starts
/// (the caller's identity, the protocol), and counted by the engine as bytes move (request and response sizes, the
/// gRPC status). One per connection or stream, reused from request to request, so keeping it allocates nothing.
/// </summary>
internal sealed class ExchangeTelemetry
{
    /// <summary>The caller (<see cref="IstioMetrics.Peers"/> id) as its proxy announced it; 0 when unknown or not read.</summary>
    public int Peer;

    /// <summary>The caller's verified mTLS identity (set when the pipeline starts); null for a cleartext request.</summary>
    public Security.PeerIdentity? MutualTlsPeer;

    public RequestProtocol Protocol;

    /// <summary>The request attributes the listener's tag expressions read (<see cref="RequestCaptures"/> number); 0 for none.</summary>
    public int Captured;

    /// <summary>The metadata-exchange fields the request carries upstream (a client-side listener's); null for none.</summary>
    public string? PeerHeader;

    public string? PeerIdHeader;

    /// <summary>This hop's trace context (what the upstream request carries); invalid when none was set up.</summary>
    public Tracing.TraceContext Trace;

    /// <summary>The caller's span (the parent of this hop's); 0 for a trace this hop started.</summary>
    public ulong ParentSpan;

    /// <summary>The caller's <c>tracestate</c>, passed on with a valid <c>traceparent</c>; null for none.</summary>
    public string? TraceState;

    /// <summary>The request fields an access log reads (<c>:method</c>, <c>:path</c>, <c>:authority</c>, headers); null when none logs.</summary>
    public Dictionary<string, string>? LogFields;

    /// <summary>This hop's span while the request is served; null when it is not sampled or not exported.</summary>
    public System.Diagnostics.Activity? Span;

    /// <summary>Bytes of the request received from the client: head and body.</summary>
    public long RequestBytes;

    /// <summary>Bytes of the response sent to the client: head and body.</summary>
    public long ResponseBytes;

    /// <summary>The response's <c>grpc-status</c> when it carried one in its head (a trailers-only answer) or trailers; -1 otherwise.</summary>
    public int GrpcStatus = -1;

    /// <summary>Whether an AUDIT AuthorizationPolicy matched the request (Envoy's <c>envoy.common</c> <c>access_log_hint</c>).</summary>
    public bool Audited;

    /// <summary>Forgets the previous request; the engine calls it before a new one starts.</summary>
    public void Reset()
    {
        Peer = 0;
        Protocol = RequestProtocol.Http;
        Captured = 0;
        PeerHeader = null;
        PeerIdHeader = null;
        Trace = default;
        ParentSpan = 0;
        TraceState = null;
        LogFields = null;
        Span = null;
        RequestBytes = 0;
        ResponseBytes = 0;
        GrpcStatus = -1;
        Audited = false;
    }

    /// <summary>Reads a <c>grpc-status</c> value (ASCII digits) as the engine sees it go by.</summary>
    public void SetGrpcStatus(ReadOnlySpan<byte> value)
    {
        var status = 0;
        if (value.IsEmpty || value.Length > 3)
        {
            return;
        }

        foreach (var b in value)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return;
            }

            status = (status * 10) + (b - '0');
        }

        GrpcStatus = status;
    }
}

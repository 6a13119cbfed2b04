using Trellis.Api.Observability;
using Trellis.Proxy.Pipeline;

namespace Trellis.Proxy.Telemetry.AccessLogs;

/// <summary>
/// What one access-log line can say of a finished request (Envoy's stream info): times, sizes, the answer with its
/// response flags, who was called, and the request fields the format reads (captured while the head was there; names
/// in lower case, the pseudo-headers <c>:method</c>, <c>:path</c>, <c>:authority</c> included); <c>Audited</c>: an AUDIT
/// AuthorizationPolicy matched the request.
/// </summary>
internal sealed record AccessLogEntry(
    DateTimeOffset Start,
    string Protocol,
    int Status,
    ResponseFlags Flags,
    long BytesReceived,
    long BytesSent,
    TimeSpan Duration,
    IReadOnlyDictionary<string, string> Request,
    string? UpstreamHost = null,
    string? UpstreamCluster = null,
    string? DownstreamLocal = null,
    string? DownstreamRemote = null,
    string? Route = null,
    string? TraceId = null,
    string? Details = null,
    IReadOnlyDictionary<string, string>? Response = null,
    bool Audited = false) : ILogAttributes
{
    int ILogAttributes.ResponseCode => Status;

    /// <summary>The attributes of a Telemetry filter expression, as Envoy's CEL names them.</summary>
    string? ILogAttributes.Get(LogAttribute attribute, string? header) => attribute switch
    {
        LogAttribute.RequestMethod => RequestHeader(":method"),
        LogAttribute.RequestPath => RequestHeader(":path"),
        LogAttribute.RequestUrlPath => RequestHeader(":path") is { } path && path.IndexOf('?', StringComparison.Ordinal) is var q and >= 0 ? path[..q] : RequestHeader(":path"),
        LogAttribute.RequestHost => RequestHeader(":authority"),
        LogAttribute.RequestHeader => header is null ? null : RequestHeader(header),
        _ => null,
    };

    public string? RequestHeader(string name) => Request.TryGetValue(name, out var value) ? value : null;

    public string? ResponseHeader(string name) => Response is not null && Response.TryGetValue(name, out var value) ? value : null;
}

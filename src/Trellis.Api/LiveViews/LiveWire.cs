namespace Trellis.Api.LiveViews;

// What the live views (`trellis stat`, `edges`, `tap`, `top`; docs/telemetry.md) carry: each proxy answers its own
// counts and records on its admin endpoint, the control plane gathers them across proxies and answers the CLI.
// camelCase JSON (WireJsonContext), so the Native AOT proxy serves them too.

/// <summary>A workload on one side of a request, with Istio's label values (<c>unknown</c> when not known).</summary>
/// <param name="Service">Its canonical service (Istio's <c>*_canonical_service</c>); null from a proxy that does not say.</param>
/// <param name="Pod">The instance; <c>unknown</c> when not known, null from a proxy that does not say.</param>
public sealed record LivePeer(string Workload, string Namespace, string App, string Version, string Principal, string? Service = null, string? Pod = null);

/// <summary>A request's destination service (Istio's <c>destination_service*</c> labels).</summary>
public sealed record LiveService(string Host, string Name, string Namespace);

/// <summary>
/// One edge seen by one proxy over a window: the requests from one workload to another through one service, reported
/// by the caller's side (<c>source</c>) or the callee's (<c>destination</c>), as Istio's <c>reporter</c> label.
/// </summary>
/// <param name="Successes">Requests answered without a 5xx and, for gRPC, with status OK (Linkerd's success).</param>
/// <param name="MutualTls">Requests that arrived over mTLS (only a destination reporter knows).</param>
/// <param name="Latency">Requests by duration, one count per <see cref="LatencyBuckets"/> bucket.</param>
public sealed record LiveEdge(
    string Reporter, LivePeer Source, LivePeer Destination, LiveService Service, long Requests, long Successes, long MutualTls, IReadOnlyList<long> Latency);

/// <summary>One proxy's edges with requests in the last <paramref name="WindowSeconds"/> (its admin <c>/live/stats</c>).</summary>
public sealed record ProxyLiveStats(string Proxy, double WindowSeconds, IReadOnlyList<LiveEdge> Edges, string? Error = null);

/// <summary>
/// One finished request as <c>trellis tap</c> shows it: metadata only, never a body. <paramref name="Direction"/> is
/// <c>inbound</c> (to the tapped workload) or <c>outbound</c> (from it); <paramref name="Workload"/> the tapped one.
/// </summary>
/// <param name="Id">The proxy's sequence number of the record.</param>
/// <param name="GrpcStatus">The response's <c>grpc-status</c>; null when it carried none.</param>
/// <param name="ResponseFlags">Envoy's flags (<c>-</c> for none).</param>
/// <param name="MutualTls">Whether the request arrived over mTLS (an inbound request only).</param>
public sealed record TapEvent(
    long Id,
    string Proxy,
    DateTimeOffset Time,
    string Direction,
    string Workload,
    string Namespace,
    string Method,
    string Authority,
    string Path,
    int Status,
    int? GrpcStatus,
    string ResponseFlags,
    double LatencyMs,
    long RequestBytes,
    long ResponseBytes,
    LivePeer Source,
    LivePeer Destination,
    bool MutualTls,
    string? TraceId);

/// <summary>A line of <c>trellis stat</c>: one deployment, service or Knative Service over the window.</summary>
/// <param name="SuccessRate">Share of requests that succeeded (0..1); null without requests.</param>
/// <param name="MutualTlsShare">Share of requests that arrived over mTLS (0..1); null without requests seen by a destination proxy.</param>
public sealed record StatRow(
    string Namespace,
    string Name,
    long Requests,
    double? SuccessRate,
    double RequestsPerSecond,
    double? LatencyP50Ms,
    double? LatencyP95Ms,
    double? LatencyP99Ms,
    double? MutualTlsShare);

/// <summary><c>trellis stat</c>'s answer; <paramref name="Errors"/> names proxies that did not answer (their counts are missing).</summary>
public sealed record StatReport(string Kind, double WindowSeconds, IReadOnlyList<StatRow> Rows, IReadOnlyList<string> Errors);

/// <summary>A line of <c>trellis edges</c>: who called whom in the window, with the identities mTLS proved.</summary>
/// <param name="Secured">Every request of the edge in the window arrived over mTLS.</param>
public sealed record EdgeRow(
    string Source,
    string SourceNamespace,
    string Destination,
    string DestinationNamespace,
    string SourcePrincipal,
    string DestinationPrincipal,
    bool Secured,
    long Requests,
    double RequestsPerSecond);

public sealed record EdgesReport(string Kind, double WindowSeconds, IReadOnlyList<EdgeRow> Edges, IReadOnlyList<string> Errors);

/// <summary>How far back the proxies keep counts for the live views.</summary>
public static class LiveWindow
{
    /// <summary>The longest window <c>trellis stat</c> and <c>edges</c> may ask for, in seconds (Linkerd's default window).</summary>
    public const int MaxSeconds = 60;
}

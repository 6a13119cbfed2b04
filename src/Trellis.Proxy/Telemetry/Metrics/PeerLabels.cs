using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// The label values one workload contributes to Istio's standard metrics, on either side of a request
/// (<c>source_*</c> or <c>destination_*</c>), derived as Istio's stats plugin derives them from a peer's metadata:
/// the workload name and namespace, the <c>app</c> and <c>version</c> labels, the canonical service and revision
/// (<c>service.istio.io/canonical-name</c>, then <c>app.kubernetes.io/name</c>, then <c>app</c>, then the workload;
/// <c>service.istio.io/canonical-revision</c>, then <c>app.kubernetes.io/version</c>, then <c>version</c>, then
/// <c>latest</c>), the principal and the cluster. What is not known is <c>unknown</c>, as Istio writes it.
/// </summary>
/// <param name="Pod">The instance (Istio's node <c>NAME</c>): not a label of Istio's metrics (series of one workload's pods are one
/// sample), but the live views' <c>edges po</c> tell pods apart by it.</param>
internal sealed record PeerLabels(
    string Workload,
    string Namespace,
    string App,
    string Version,
    string CanonicalService,
    string CanonicalRevision,
    string Principal,
    string Cluster,
    string Pod = PeerLabels.Unknown)
{
    public const string Unknown = "unknown";

    /// <summary>
    /// Istio's default cluster id (<c>CLUSTER_ID</c> / <c>values.global.multiCluster.clusterName</c>): one mesh, one
    /// cluster, so <c>source_cluster</c> and <c>destination_cluster</c> read as a single-cluster Istio's do.
    /// </summary>
    public const string DefaultCluster = "Kubernetes";

    /// <summary>A peer nothing is known of (a client outside the mesh, a request that reached no endpoint).</summary>
    public static readonly PeerLabels None = new(Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown);

    public static PeerLabels From(WorkloadMetadata? workload) =>
        workload is null ? None : From(workload.Name, workload.Namespace, workload.Labels, workload.Principal, workload.Pod);

    /// <summary>An endpoint's workload: its Deployment, namespace and instance labels.</summary>
    public static PeerLabels From(EndpointConfig endpoint) =>
        endpoint.Workload is null && endpoint.Labels is null ? None : From(endpoint.Workload, endpoint.Namespace, endpoint.Labels, null, endpoint.Pod);

    public static PeerLabels From(string? workload, string? ns, IReadOnlyDictionary<string, string>? labels, string? principal, string? pod = null)
    {
        var name = Known(workload);
        var app = Known(Label(labels, "app"));
        var version = Known(Label(labels, "version"));
        var canonicalService = Label(labels, "service.istio.io/canonical-name") ?? Label(labels, "app.kubernetes.io/name") ?? Label(labels, "app") ?? name;
        var canonicalRevision = Label(labels, "service.istio.io/canonical-revision") ?? Label(labels, "app.kubernetes.io/version") ?? Label(labels, "version") ?? "latest";
        return new PeerLabels(name, Known(ns), app, version, canonicalService, canonicalRevision, Known(principal), DefaultCluster, Known(pod));
    }

    private static string? Label(IReadOnlyDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) && value.Length > 0 ? value : null;

    private static string Known(string? value) => string.IsNullOrEmpty(value) ? Unknown : value;
}

/// <summary>The <c>destination_service*</c> label values of a request.</summary>
internal sealed record ServiceLabels(string Host, string Name, string Namespace)
{
    public static readonly ServiceLabels None = new(PeerLabels.Unknown, PeerLabels.Unknown, PeerLabels.Unknown);

    public static ServiceLabels From(ServiceMetadata? service) =>
        service is null ? None : new ServiceLabels(service.Host, service.Name, service.Namespace);
}

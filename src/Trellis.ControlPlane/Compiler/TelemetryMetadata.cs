using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// Who is who in telemetry, as Istio's stats plugin names it: the workload a listener speaks for, the services a
/// cluster or an instance stands for. The proxy derives Istio's metric labels from these.
/// </summary>
internal static class TelemetryMetadata
{
    /// <summary>A workload instance's Deployment, namespace, labels and its own name (the pod).</summary>
    public static WorkloadMetadata Workload(WorkloadInstance instance) => new(instance.Workload, instance.Namespace, instance.Labels, Pod: instance.Id);

    /// <summary>
    /// A gateway proxy: its name without the role prefix (<c>gateway/ingress</c> is workload <c>ingress</c>) and its labels.
    /// A gateway proxy belongs to no namespace of the mesh, so its namespace is left empty ("unknown" in the metrics).
    /// </summary>
    public static WorkloadMetadata Gateway(ProxyHello proxy)
    {
        var slash = proxy.Name.IndexOf('/', StringComparison.Ordinal);
        return new WorkloadMetadata(slash >= 0 ? proxy.Name[(slash + 1)..] : proxy.Name, "", proxy.Labels);
    }

    /// <summary>The services that select <paramref name="instance"/>, by host.</summary>
    public static IReadOnlyList<ServiceMetadata> ServicesOf(WorkloadInstance instance, MeshIndex index) =>
        index.Services.Values
            .Where(s => s.Instances.Any(i => i.Id == instance.Id))
            .OrderBy(s => s.Fqdn, StringComparer.Ordinal)
            .Select(s => new ServiceMetadata(s.Fqdn, s.Name, s.Namespace))
            .ToList();

    /// <summary>
    /// A service port by its host: <c>reviews.default.svc.cluster.local</c> is service <c>reviews</c> in <c>default</c>;
    /// <paramref name="port"/> is the port the cluster targets.
    /// </summary>
    public static ServiceMetadata Service(string fqdn, MeshIndex index, int port)
    {
        if (index.Services.TryGetValue(fqdn, out var service))
        {
            return new ServiceMetadata(service.Fqdn, service.Name, service.Namespace, port);
        }

        var parts = fqdn.Split('.');
        return new ServiceMetadata(fqdn, parts[0], parts.Length > 1 ? parts[1] : "", port);
    }
}

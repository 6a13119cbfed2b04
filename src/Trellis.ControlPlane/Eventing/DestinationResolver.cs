using Trellis.Api;
using Trellis.Api.Eventing;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Store;
using Trellis.Eventing.Delivery;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// Knative's destination resolution (duckv1.Destination): a <c>uri</c> alone is used as it is; a
/// <c>ref</c> resolves to the object's address, and a <c>uri</c> beside it is taken relative to that
/// address (its path). Knative Services are reached through the gateway with their host, Brokers at
/// their ingress, Kubernetes Services at a ready instance's inbound proxy, over mTLS as any mesh client
/// when the instance speaks it (auto mTLS), checked against the Service's identities (secure naming).
/// </summary>
internal sealed class DestinationResolver(EventingOptions options, Uri brokerIngress, string trustDomain)
{
    private (StoreSnapshot Snapshot, IReadOnlyList<WorkloadInstance> Instances, MeshIndex Index)? _index;

    public (DeliveryTarget? Target, string? Error) Resolve(EventDestination destination, string defaultNamespace, StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances)
    {
        if (destination.Ref is not { } reference)
        {
            return EventDestination.TryAbsoluteHttp(destination.Uri, out var uri) ? (DeliveryTarget.Direct(uri), null) : (null, $"\"{destination.Uri}\" is not an absolute http(s) URI");
        }

        var ns = reference.Namespace ?? defaultNamespace;
        var group = reference.ApiVersion.Contains('/', StringComparison.Ordinal) ? reference.ApiVersion[..reference.ApiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
        var exists = snapshot.Get(new ResourceKey(group, reference.Kind, ns, reference.Name)) is not null;
        if (!exists)
        {
            return (null, $"{reference.Kind} {ns}/{reference.Name} ({reference.ApiVersion}) does not exist");
        }

        DeliveryTarget? target = (group, reference.Kind) switch
        {
            ("serving.knative.dev", "Service") => new DeliveryTarget(options.Gateway, new Uri($"http://{reference.Name}.{ns}.example.com/")),
            ("eventing.knative.dev", "Broker") => DeliveryTarget.Direct(new Uri(brokerIngress, $"{ns}/{reference.Name}")),
            ("", "Service") => Instance(reference.Name, ns, snapshot, instances),
            _ => null,
        };
        if (target is null)
        {
            return (null, (group, reference.Kind) == ("", "Service")
                ? $"Service {ns}/{reference.Name} has no ready instance"
                : $"{reference.Kind} ({reference.ApiVersion}) is not an addressable kind Trellis resolves (Knative Service, Broker, Service)");
        }

        return destination.Uri is { } relative ? (Relative(target, relative), null) : (target, null);
    }

    /// <summary>
    /// The URL a workload in the mesh sends to for a resolved destination (a SinkBinding's <c>K_SINK</c>): a Knative
    /// Service's cluster-local address (Knative's <c>status.address.url</c>), which the workload's outbound proxy
    /// routes like any call; any other destination's own URL.
    /// </summary>
    public static Uri WorkloadUri(EventDestination destination, string defaultNamespace, DeliveryTarget target)
    {
        if (destination.Ref is { Kind: "Service" } reference && reference.ApiVersion.StartsWith("serving.knative.dev/", StringComparison.Ordinal))
        {
            var local = new Uri($"http://{reference.Name}.{reference.Namespace ?? defaultNamespace}.svc.cluster.local/");
            return destination.Uri is { } relative ? new Uri(local, relative) : local;
        }

        return target.Logical;
    }

    private DeliveryTarget? Instance(string name, string ns, StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances)
    {
        if (snapshot.Get(new ResourceKey("", "Service", ns, name))?.Resource.Spec is not Trellis.Api.Workloads.ServiceSpec service || service.Selector is not { Count: > 0 } selector)
        {
            return null;
        }

        var selected = instances.Where(i => i.Namespace == ns && selector.All(s => i.Labels.GetValueOrDefault(s.Key) == s.Value)).ToList();
        var ready = selected.FirstOrDefault(i => i.Ready && i.Ports.ContainsKey(WorkloadInstance.InboundPort));
        if (ready is null)
        {
            return null;
        }

        var target = new DeliveryTarget(new Uri($"http://{ready.Host}:{ready.Ports[WorkloadInstance.InboundPort]}/"), new Uri($"http://{name}.{ns}.svc.cluster.local/"));
        var index = Index(snapshot, instances);
        return PeerAuthentications.ReachedOverMtls(index, ready)
            ? target with { MeshPeers = string.Join(' ', selected.Select(i => PeerAuthentications.IdentityOf(index, i)).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)) }
            : target;
    }

    /// <summary>The mesh's lookups over the state a reconcile pass resolves against, built once for the pass.</summary>
    private MeshIndex Index(StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances)
    {
        var cached = _index;
        if (cached is null || !ReferenceEquals(cached.Value.Snapshot, snapshot) || !ReferenceEquals(cached.Value.Instances, instances))
        {
            cached = (snapshot, instances, new MeshIndex(new MeshState(0, snapshot, instances) { TrustDomain = trustDomain }));
            _index = cached;
        }

        return cached.Value.Index;
    }

    private static DeliveryTarget Relative(DeliveryTarget target, string relative) =>
        target with { Address = new Uri(target.Address, relative), Logical = new Uri(target.Logical, relative) };
}

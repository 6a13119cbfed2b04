namespace Trellis.Api.Workloads;

/// <summary>Kubernetes core <c>v1 Service</c>: a stable name and ports in front of the pods <see cref="Selector"/> picks.</summary>
public sealed record ServiceSpec
{
    public IReadOnlyDictionary<string, string> Selector { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<ServicePort> Ports { get; init; } = [];

    /// <summary>ClusterIP (default), NodePort, LoadBalancer or ExternalName.</summary>
    public string? Type { get; init; }

    /// <summary><c>None</c> makes a headless service.</summary>
    public string? ClusterIP { get; init; }

    public IReadOnlyList<string> ClusterIPs { get; init; } = [];

    public string? ExternalName { get; init; }

    public string? SessionAffinity { get; init; }

    public IReadOnlyList<string> IpFamilies { get; init; } = [];

    public string? IpFamilyPolicy { get; init; }

    public bool? PublishNotReadyAddresses { get; init; }

    public string? ExternalTrafficPolicy { get; init; }

    public string? InternalTrafficPolicy { get; init; }

    public string? LoadBalancerIP { get; init; }
}

public sealed record ServicePort
{
    /// <summary>Required when the service has more than one port.</summary>
    public string? Name { get; init; }

    public required int Port { get; init; }

    /// <summary>Number or name of the container port; defaults to <see cref="Port"/>.</summary>
    public IntOrString? TargetPort { get; init; }

    public string? Protocol { get; init; }

    public string? AppProtocol { get; init; }

    public int? NodePort { get; init; }
}

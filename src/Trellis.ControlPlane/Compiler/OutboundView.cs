using Trellis.Api;
using Trellis.Api.Networking;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// What one workload's outbound listener sees of the registry and does with the rest, as Istio's <c>SidecarScope</c>:
/// the <c>Sidecar</c> that applies to the workload (<see cref="For"/>) limits the services and ServiceEntry hosts to its
/// <c>egress[].hosts</c>, and its <c>outboundTrafficPolicy</c> (else the mesh configuration's) decides what a request
/// for any other host gets: passed through (<c>ALLOW_ANY</c>) or refused (<c>REGISTRY_ONLY</c>).
/// </summary>
internal sealed class OutboundView
{
    private readonly Scoped<SidecarSpec>? _sidecar;

    private OutboundView(Scoped<SidecarSpec>? sidecar, OutboundMode mode)
    {
        _sidecar = sidecar;
        Mode = mode;
    }

    public OutboundMode Mode { get; }

    /// <summary>The Sidecar that applies, if any (for explain and tests).</summary>
    public string? Sidecar => _sidecar is null ? null : $"{_sidecar.Namespace}/{_sidecar.Name}";

    /// <summary>
    /// Istio's choice of Sidecar for a workload: the oldest in its namespace whose <c>workloadSelector</c> selects it,
    /// else the oldest of its namespace without a selector, else the oldest selector-less one of the root namespace.
    /// </summary>
    public static OutboundView For(MeshIndex index, string ns, IReadOnlyDictionary<string, string> labels)
    {
        var sidecar = index.Sidecars.FirstOrDefault(s => s.Namespace == ns && s.Spec.WorkloadSelector is { Labels.Count: > 0 } w && Labels.Selects(w.Labels, labels))
            ?? index.Sidecars.FirstOrDefault(s => s.Namespace == ns && s.Spec.WorkloadSelector is null or { Labels.Count: 0 })
            ?? index.Sidecars.FirstOrDefault(s => s.Namespace == MeshConfig.RootNamespace && s.Spec.WorkloadSelector is null or { Labels.Count: 0 });
        var mode = MeshConfig.ParseMode(sidecar?.Spec.OutboundTrafficPolicy?.Mode) ?? index.MeshConfig.OutboundTrafficPolicy;
        return new OutboundView(sidecar, mode);
    }

    /// <summary>
    /// Whether port <paramref name="port"/> of <paramref name="host"/>, defined in namespace <paramref name="hostNamespace"/>,
    /// is in the view: without a Sidecar (or one without <c>egress</c>) everything is; otherwise an egress listener for
    /// that port (or for every port) must name it as <c>namespace/dnsName</c>, where the namespace is <c>*</c> (any),
    /// <c>.</c> (the Sidecar's), <c>~</c> (none) or a name, and the name is <c>*</c>, <c>*.suffix</c> or the host.
    /// </summary>
    public bool Sees(string hostNamespace, string host, int port)
    {
        if (_sidecar is null || _sidecar.Spec.Egress.Count == 0)
        {
            return true;
        }

        foreach (var listener in _sidecar.Spec.Egress)
        {
            if (listener.Port is { } p && p.Number != port)
            {
                continue;
            }

            foreach (var entry in listener.Hosts)
            {
                var slash = entry.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0)
                {
                    continue; // refused by validation
                }

                var ns = entry[..slash];
                var name = entry[(slash + 1)..];
                var nsMatches = ns switch
                {
                    "*" => true,
                    "~" => false,
                    "." => hostNamespace == _sidecar.Namespace,
                    _ => hostNamespace == ns,
                };
                if (nsMatches && HostNames.Matches(name.ToLowerInvariant(), host))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

using Trellis.Api.Networking;
using Trellis.Api.Serving;
using Trellis.Api.Workloads;

namespace Trellis.Api;

/// <summary>Lookups the analyzer needs, built once per analysis: known hosts, gateways, subsets and workloads.</summary>
internal sealed class MeshIndex
{
    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _wildcardHosts = [];
    private readonly List<(string Host, IReadOnlyList<Subset> Subsets)> _destinationRules = [];
    private readonly Dictionary<string, ServiceSpec> _services = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(string Namespace, IReadOnlyDictionary<string, string> Labels)> _deployments = [];
    private readonly Dictionary<string, IReadOnlyList<(int Number, PortProtocol Protocol)>> _ports = new(StringComparer.OrdinalIgnoreCase);

    public MeshIndex(IReadOnlyList<Resource> resources)
    {
        foreach (var r in resources)
        {
            var ns = Analyzer.Namespace(r);
            switch (r.Spec)
            {
                case ServiceSpec service:
                    var fqdn = HostNames.Qualify(r.Metadata.Name, ns);
                    _hosts.Add(fqdn);
                    _services[fqdn] = service;
                    _ports[fqdn] = service.Ports.Select(p => (p.Port, PortProtocols.OfServicePort(p.Name, p.AppProtocol, p.Protocol))).ToList();
                    break;
                case KnativeServiceSpec:
                    // A Knative Service is reachable under its name like a Kubernetes Service.
                    _hosts.Add(HostNames.Qualify(r.Metadata.Name, ns));
                    break;
                case ServiceEntrySpec entry:
                    foreach (var host in entry.Hosts)
                    {
                        // ServiceEntry hosts are taken as written by Istio; the qualified form is added too so that a
                        // short name written in both places still matches.
                        if (host.StartsWith('*'))
                        {
                            _wildcardHosts.Add(host);
                        }
                        else
                        {
                            _hosts.Add(host);
                            _hosts.Add(HostNames.Qualify(host, ns));
                            _ports[host] = entry.Ports.Select(p => (p.Number, PortProtocols.Parse(p.Protocol))).ToList();
                        }
                    }

                    break;
                case GatewaySpec when r.Group == ResourceKinds.IstioNetworking:
                    Gateways.Add((ns, r.Metadata.Name));
                    break;
                case DestinationRuleSpec rule:
                    _destinationRules.Add((HostNames.Qualify(rule.Host, ns), rule.Subsets));
                    break;
                case DeploymentSpec deployment:
                    _deployments.Add((ns, deployment.Template.Metadata?.Labels ?? new Dictionary<string, string>()));
                    break;
                case SecretData secret:
                    Secrets[(ns, r.Metadata.Name)] = secret;
                    break;
            }
        }
    }

    public HashSet<(string Namespace, string Name)> Gateways { get; } = [];

    /// <summary>Secrets by namespace and name (the credentials DestinationRules name).</summary>
    public Dictionary<(string Namespace, string Name), SecretData> Secrets { get; } = [];

    /// <summary>Whether a destination host (as written and qualified) names a known service.</summary>
    public bool HasHost(string written, string qualified) =>
        _hosts.Contains(qualified) || _hosts.Contains(written) || _wildcardHosts.Any(w => HostNames.Matches(w, written) || HostNames.Matches(w, qualified));

    /// <summary>Whether some DestinationRule for <paramref name="host"/> (exactly or by wildcard) defines the subset.</summary>
    public bool HasSubset(string host, string subset) =>
        _destinationRules.Any(dr => HostNames.Matches(dr.Host, host) && dr.Subsets.Any(s => s.Name == subset));

    /// <summary>The ports of a Service or ServiceEntry host and what each carries, or null for an unknown host.</summary>
    public IReadOnlyList<(int Number, PortProtocol Protocol)>? PortsOf(string written, string qualified) =>
        _ports.GetValueOrDefault(qualified) ?? _ports.GetValueOrDefault(written);

    /// <summary>Template labels of the Deployments a Service selects, or null when the host is no Service with a selector.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>>? WorkloadLabelsBehind(string host)
    {
        if (!_services.TryGetValue(host, out var service) || service.Selector.Count == 0)
        {
            return null;
        }

        var ns = host.Split('.')[1];
        var selector = new LabelSelector { MatchLabels = service.Selector };
        return _deployments.Where(d => d.Namespace == ns && selector.Matches(d.Labels)).Select(d => d.Labels).ToList();
    }
}

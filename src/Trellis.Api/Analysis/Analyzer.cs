using Trellis.Api.Diagnostics;
using Trellis.Api.Networking;
using Trellis.Api.Workloads;

namespace Trellis.Api;

/// <summary>
/// Cross-resource checks over a whole set (what is stored plus what is being applied), like istioctl analyze:
/// references to hosts, subsets and gateways that nothing defines, subsets that select no workload, and pool
/// settings an HTTP/2 upstream does not honour.
/// Each resource is checked on its own, so one broken resource never hides findings about the others.
/// </summary>
public static class Analyzer
{
    public static IReadOnlyList<Diagnostic> Analyze(IReadOnlyList<Resource> resources)
    {
        var findings = new List<Diagnostic>();
        MeshIndex index;
        try
        {
            index = new MeshIndex(resources);
        }
        catch (Exception ex)
        {
            // Analysis is advice; a bug in it must not fail an apply. Say so instead of throwing.
            return [new Diagnostic(DiagnosticCodes.AnalysisSkipped, Severity.Warning, $"analysis skipped: {ex.Message}")];
        }

        foreach (var resource in resources)
        {
            try
            {
                switch (resource.Spec)
                {
                    case VirtualServiceSpec vs:
                        CheckVirtualService(resource, vs, index, findings);
                        break;
                    case DestinationRuleSpec dr:
                        CheckDestinationRule(resource, dr, index, findings);
                        break;
                }
            }
            catch (Exception ex)
            {
                findings.Add(new Diagnostic(DiagnosticCodes.AnalysisSkipped, Severity.Warning, $"analysis of this resource skipped: {ex.Message}", Resource: Label(resource)));
            }
        }

        return findings;
    }

    private static void CheckVirtualService(Resource resource, VirtualServiceSpec spec, MeshIndex index, List<Diagnostic> findings)
    {
        var ns = Namespace(resource);
        for (var i = 0; i < spec.Gateways.Count; i++)
        {
            CheckGateway(spec.Gateways[i], ns, $"spec.gateways[{i}]", resource, index, findings);
        }

        for (var r = 0; r < spec.Http.Count; r++)
        {
            var route = spec.Http[r];
            for (var m = 0; m < route.Match.Count; m++)
            {
                for (var g = 0; g < route.Match[m].Gateways.Count; g++)
                {
                    CheckGateway(route.Match[m].Gateways[g], ns, $"spec.http[{r}].match[{m}].gateways[{g}]", resource, index, findings);
                }
            }

            for (var d = 0; d < route.Route.Count; d++)
            {
                CheckDestination(route.Route[d].Destination, ns, $"spec.http[{r}].route[{d}].destination", resource, index, findings);
            }

            if (route.Mirror is { } mirror)
            {
                CheckDestination(mirror, ns, $"spec.http[{r}].mirror", resource, index, findings);
            }

            for (var i = 0; i < route.Mirrors.Count; i++)
            {
                CheckDestination(route.Mirrors[i].Destination, ns, $"spec.http[{r}].mirrors[{i}].destination", resource, index, findings);
            }
        }

        for (var r = 0; r < spec.Tcp.Count; r++)
        {
            for (var d = 0; d < spec.Tcp[r].Route.Count; d++)
            {
                CheckDestination(spec.Tcp[r].Route[d].Destination, ns, $"spec.tcp[{r}].route[{d}].destination", resource, index, findings);
            }
        }

        for (var r = 0; r < spec.Tls.Count; r++)
        {
            for (var d = 0; d < spec.Tls[r].Route.Count; d++)
            {
                CheckDestination(spec.Tls[r].Route[d].Destination, ns, $"spec.tls[{r}].route[{d}].destination", resource, index, findings);
            }
        }
    }

    private static void CheckGateway(string gateway, string ns, string path, Resource resource, MeshIndex index, List<Diagnostic> findings)
    {
        if (gateway == "mesh")
        {
            return;
        }

        var slash = gateway.IndexOf('/', StringComparison.Ordinal);
        var (gatewayNs, name) = slash < 0 ? (ns, gateway) : (gateway[..slash], gateway[(slash + 1)..]);
        if (!index.Gateways.Contains((gatewayNs, name)))
        {
            findings.Add(NotFound($"Referenced gateway not found: \"{gatewayNs}/{name}\"", path, resource));
        }
    }

    private static void CheckDestination(Destination destination, string ns, string path, Resource resource, MeshIndex index, List<Diagnostic> findings)
    {
        var host = HostNames.Qualify(destination.Host, ns);
        if (!index.HasHost(destination.Host, host))
        {
            findings.Add(NotFound($"Referenced host not found: \"{destination.Host}\"", $"{path}.host", resource));
            return;
        }

        if (destination.Subset is { } subset && !index.HasSubset(host, subset))
        {
            findings.Add(NotFound($"Referenced host+subset in destinationrule not found: \"{destination.Host}+{subset}\"", $"{path}.subset", resource));
        }
    }

    private static void CheckDestinationRule(Resource resource, DestinationRuleSpec spec, MeshIndex index, List<Diagnostic> findings)
    {
        Http2PoolCheck.Check(resource, spec, index, findings, Label(resource));
        CredentialCheck.Check(resource, spec, index, findings, Label(resource));
        var host = HostNames.Qualify(spec.Host, Namespace(resource));
        var workloads = index.WorkloadLabelsBehind(host);
        if (workloads is null || workloads.Count == 0)
        {
            // No Service with known Deployments behind it (an external host, or workloads not applied yet): nothing to compare.
            return;
        }

        for (var i = 0; i < spec.Subsets.Count; i++)
        {
            var subset = spec.Subsets[i];
            var selector = new LabelSelector { MatchLabels = subset.Labels };
            if (!workloads.Any(selector.Matches))
            {
                findings.Add(new Diagnostic(
                    DiagnosticCodes.SubsetSelectsNoWorkload,
                    Severity.Warning,
                    $"subset \"{subset.Name}\" of host \"{spec.Host}\" selects no workload: no Deployment behind the service has labels {string.Join(",", subset.Labels.Select(kv => $"{kv.Key}={kv.Value}"))}",
                    $"spec.subsets[{i}].labels",
                    Resource: Label(resource)));
            }
        }
    }

    private static Diagnostic NotFound(string message, string path, Resource resource) =>
        new(DiagnosticCodes.ReferencedResourceNotFound, Severity.Error, message, path, Resource: Label(resource));

    internal static string Namespace(Resource r) => r.Metadata.Namespace ?? ResourceKey.DefaultNamespace;

    private static string Label(Resource r) => $"{r.Kind}/{Namespace(r)}/{r.Metadata.Name}";
}

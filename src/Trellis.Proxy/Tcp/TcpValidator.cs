using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tcp;

/// <summary>The checks of a listener's <see cref="TcpProxyConfig"/>, every problem with its path (part of the snapshot's validation).</summary>
internal static class TcpValidator
{
    /// <summary>The checks of an outbound listener's <see cref="TcpDestinationsConfig"/>.</summary>
    public static void Validate(TcpDestinationsConfig destinations, IReadOnlySet<string> clusters, string path, List<string> errors)
    {
        if (!clusters.Contains(destinations.Otherwise ?? ""))
        {
            errors.Add($"{path}.otherwise: cluster '{destinations.Otherwise}' not found");
        }

        var list = destinations.Destinations ?? [];
        for (var d = 0; d < list.Count; d++)
        {
            var destination = list[d];
            var at = $"{path}.destinations[{d}]";
            if (destination.Port is < 1 or > 65535)
            {
                errors.Add($"{at}.port: {destination.Port} is not a port (1-65535)");
            }

            if ((destination.Hosts ?? []).Any(string.IsNullOrWhiteSpace))
            {
                errors.Add($"{at}.hosts: must not hold an empty name");
            }

            var addresses = destination.Addresses ?? [];
            for (var a = 0; a < addresses.Count; a++)
            {
                if (!TcpSubnets.TryParse(addresses[a], out _))
                {
                    errors.Add($"{at}.addresses[{a}]: '{addresses[a]}' is not a CIDR or an IP address");
                }
            }

            if (destination.Tcp is null)
            {
                errors.Add($"{at}.tcp: required");
            }
            else
            {
                Validate(destination.Tcp, clusters, $"{at}.tcp", errors);
            }
        }
    }

    public static void Validate(TcpProxyConfig tcp, IReadOnlySet<string> clusters, string path, List<string> errors)
    {
        if (tcp.Original is { Port: < 1 or > 65535 } original)
        {
            errors.Add($"{path}.original.port: {original.Port} is not a port (1-65535)");
        }

        var routes = tcp.Routes ?? [];
        for (var r = 0; r < routes.Count; r++)
        {
            var route = routes[r];
            var routePath = $"{path}.routes[{r}]";
            if (string.IsNullOrWhiteSpace(route.Name))
            {
                errors.Add($"{routePath}.name: must not be empty");
            }

            var targets = route.Clusters ?? [];
            for (var c = 0; c < targets.Count; c++)
            {
                if (!clusters.Contains(targets[c].Cluster))
                {
                    errors.Add($"{routePath}.clusters[{c}].cluster: cluster '{targets[c].Cluster}' not found");
                }

                if (targets[c].Weight < 0)
                {
                    errors.Add($"{routePath}.clusters[{c}].weight: {targets[c].Weight} is negative");
                }
            }

            var matches = route.Matches ?? [];
            for (var m = 0; m < matches.Count; m++)
            {
                var match = matches[m];
                var subnets = match.DestinationSubnets ?? [];
                for (var s = 0; s < subnets.Count; s++)
                {
                    if (!TcpSubnets.TryParse(subnets[s], out _))
                    {
                        errors.Add($"{routePath}.matches[{m}].destinationSubnets[{s}]: '{subnets[s]}' is not a CIDR or an IP address");
                    }
                }

                if (match.SourceSubnet is { Length: > 0 } source && !TcpSubnets.TryParse(source, out _))
                {
                    errors.Add($"{routePath}.matches[{m}].sourceSubnet: '{source}' is not a CIDR or an IP address");
                }

                var hosts = match.SniHosts ?? [];
                for (var h = 0; h < hosts.Count; h++)
                {
                    if (string.IsNullOrWhiteSpace(hosts[h]))
                    {
                        errors.Add($"{routePath}.matches[{m}].sniHosts[{h}]: must not be empty");
                    }
                }
            }
        }
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Api.Explain;
using Trellis.Api.Snapshots;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// The endpoints of a DestinationRule's or Service's host as each connected proxy sees them now: active requests and
/// outlier-detection state (ejected until when, how often, the current failure streaks). <c>trellis describe</c>
/// prints it under the resource; the control plane gathers it from the proxies (<c>/debug/clusters</c>).
/// </summary>
internal static class EndpointHealth
{
    /// <summary>The host a DestinationRule or Service names, as the cluster names carry it (a short name is in the resource's namespace).</summary>
    public static string? HostOf(string kind, JsonNode item)
    {
        var ns = Columns.Str(item["metadata"]?["namespace"]) is { Length: > 0 } n ? n : "default";
        var host = kind switch
        {
            "DestinationRule" => Columns.Str(item["spec"]?["host"]),
            "Service" => Columns.Str(item["metadata"]?["name"]),
            _ => null,
        };
        return string.IsNullOrEmpty(host) ? null : host.Contains('.', StringComparison.Ordinal) ? host : $"{host}.{ns}.svc.cluster.local";
    }

    public static async Task PrintAsync(ControlPlaneClient client, string host, CancellationToken ct)
    {
        var response = await client.SendAsync(HttpMethod.Get, "/debug/clusters?host=" + Uri.EscapeDataString(host), null, ct);
        if (!response.Ok)
        {
            Console.WriteLine($"Endpoints as the proxies see them: unavailable ({response.Message})");
            return;
        }

        var proxies = JsonSerializer.Deserialize(response.Text, WireJsonContext.Default.IReadOnlyListProxyClusters) ?? [];
        Console.WriteLine($"Endpoints of {host} as the proxies see them:");
        if (proxies.Count == 0)
        {
            Console.WriteLine("  (no connected proxy has a cluster for this host)");
            return;
        }

        Console.Write(Render(proxies, DateTimeOffset.UtcNow));
    }

    /// <summary>One row per proxy, cluster and endpoint; a proxy that did not answer is one row with its error.</summary>
    public static string Render(IReadOnlyList<ProxyClusters> proxies, DateTimeOffset now)
    {
        var rows = new List<IReadOnlyList<string>>();
        foreach (var proxy in proxies)
        {
            if (proxy.Error is not null)
            {
                rows.Add([proxy.Proxy, "-", "-", "-", $"did not answer: {proxy.Error}"]);
                continue;
            }

            foreach (var cluster in proxy.Clusters)
            {
                foreach (var endpoint in cluster.Endpoints)
                {
                    rows.Add([proxy.Proxy, cluster.Name, $"{endpoint.Address}:{endpoint.Port}", endpoint.ActiveRequests.ToString(CultureInfo.InvariantCulture), Outlier(endpoint.Outlier, now)]);
                }
            }
        }

        return Table.Render(["PROXY", "CLUSTER", "ENDPOINT", "ACTIVE", "OUTLIER"], rows);
    }

    private static string Outlier(OutlierStateView? state, DateTimeOffset now)
    {
        if (state is null)
        {
            return "-"; // no outlierDetection for this cluster
        }

        var streaks = $"5xx {state.Consecutive5xx}, gateway {state.ConsecutiveGatewayErrors}, local {state.ConsecutiveLocalOriginFailures}";
        if (!state.Ejected)
        {
            return state.TimesEjected == 0 ? $"serving ({streaks})" : $"serving, ejected {state.TimesEjected}x before ({streaks})";
        }

        var until = state.EjectedUntil is { } at
            ? $" until {at.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}Z (in {Math.Max(0, (int)Math.Ceiling((at - now).TotalSeconds))}s)"
            : string.Empty;
        return $"EJECTED{until}, {state.TimesEjected}x so far";
    }
}

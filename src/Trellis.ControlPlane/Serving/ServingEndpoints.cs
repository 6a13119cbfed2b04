using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Metering;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Metering;
using Trellis.ControlPlane.Registry;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Serving;

/// <summary>
/// What the autoscaler hears from the data plane: per-instance load from the agents (Knative's
/// queue-proxy metrics) and demand for revisions at zero from any proxy (the activator's).
/// </summary>
internal static class ServingEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/serving/v1/load", async (HttpContext c, ServiceRegistry registry, RevisionScalers scalers) =>
        {
            var reports = await ReadAsync<List<LoadReport>>(c);
            if (reports is null)
            {
                return Results.BadRequest("expected a JSON array of load reports");
            }

            var instances = registry.Instances.ToDictionary(i => i.Id, StringComparer.Ordinal);
            foreach (var report in reports)
            {
                if (instances.TryGetValue(report.Workload, out var instance) && RevisionOf(instance) is { } revision)
                {
                    var seconds = Math.Max(0.001, (report.To - report.From).TotalSeconds);
                    scalers.Record(revision, report.To, report.AverageConcurrency, report.Requests / seconds);
                }
            }

            return Results.NoContent();
        });
        app.MapPost("/serving/v1/demand", async (HttpContext c, RevisionScalers scalers, TimeProvider time, ServingController controller) =>
        {
            var demand = await ReadAsync<DemandReport>(c);
            if (demand is null || RevisionOfCluster(demand.Cluster) is not { } revision)
            {
                return Results.BadRequest("expected {cluster, waiting} naming a revision cluster");
            }

            // Held requests count as load, so the autoscaler wants at least one instance at once.
            scalers.Record(revision, time.GetUtcNow(), Math.Max(1, demand.Waiting), Math.Max(1, demand.Waiting));
            controller.Poke();
            return Results.NoContent();
        });

        // Metering: proxies and agents post cumulative usage; the CLI and Prometheus read it.
        app.MapPost("/serving/v1/metering", async (HttpContext c, UsageLedger ledger) =>
        {
            var report = await ReadAsync<MeteringReport>(c);
            if (report is null || report.Reporter is null || report.Instances is null || report.ColdStarts is null)
            {
                return Results.BadRequest("expected {reporter, instances, coldStarts}");
            }

            ledger.Record(report, RevisionKeyOfCluster);
            return Results.NoContent();
        });
        app.MapGet("/serving/v1/usage", (HttpContext c, UsageLedger ledger) =>
        {
            var ns = c.Request.Query["namespace"].FirstOrDefault();
            var service = c.Request.Query["service"].FirstOrDefault();
            return Results.Json(ledger.View(RevisionKeyOfCluster, string.IsNullOrEmpty(ns) ? null : ns, string.IsNullOrEmpty(service) ? null : service), WireJson.Options);
        });
        app.MapGet("/metrics", (UsageLedger ledger) => Results.Text(UsageMetrics.Render(ledger.View(RevisionKeyOfCluster)), PrometheusText.ContentType));
    }

    private static (string Namespace, string Revision)? RevisionKeyOfCluster(string cluster) =>
        RevisionOfCluster(cluster) is { } key && key.Split('/') is [var ns, var revision] ? (ns, revision) : null;

    private static string? RevisionOf(WorkloadInstance instance) =>
        instance.Labels.TryGetValue(ServingLabels.Revision, out var revision) ? $"{instance.Namespace}/{revision}" : null;

    /// <summary>Revision clusters are named <c>outbound|80|{revision}|{service}.{namespace}.svc.cluster.local</c>.</summary>
    public static string? RevisionOfCluster(string cluster)
    {
        var parts = cluster.Split('|');
        if (parts.Length != 4 || parts[0] != "outbound" || parts[2].Length == 0)
        {
            return null;
        }

        var hostParts = parts[3].Split('.');
        return hostParts.Length >= 2 ? $"{hostParts[1]}/{parts[2]}" : null;
    }

    private static async Task<T?> ReadAsync<T>(HttpContext c) where T : class
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(c.Request.Body, WireJson.Options, c.RequestAborted);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

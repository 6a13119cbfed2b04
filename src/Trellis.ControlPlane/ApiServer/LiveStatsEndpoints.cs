using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api;
using Trellis.Api.LiveViews;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.LiveViews;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Registry;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>
/// <c>GET /debug/stat?kind=deploy|svc|ksvc&amp;name=&amp;namespace=&amp;window=30s</c> and <c>GET
/// /debug/edges?kind=deploy|po|svc|ksvc&amp;namespace=&amp;window=</c>: <c>trellis stat</c> and <c>trellis edges</c>, computed from what
/// every connected proxy counted in the window (their admin <c>/live/stats</c>), not from Prometheus. A proxy that does not
/// answer is named in <c>errors</c> and its counts are missing.
/// </summary>
internal static class LiveStatsEndpoints
{
    /// <summary>The window when none is asked for: Linkerd's default, and the longest the proxies keep.</summary>
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(LiveWindow.MaxSeconds);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/debug/stat", StatAsync);
        app.MapGet("/debug/edges", EdgesAsync);
    }

    private static async Task StatAsync(HttpContext c, PushServer push, ServiceRegistry registry, IHttpClientFactory clients)
    {
        var query = c.Request.Query;
        var kindText = query["kind"].FirstOrDefault() ?? "";
        StatKind? kind = kindText.ToLowerInvariant() switch
        {
            "deploy" or "deployment" or "deployments" => StatKind.Deployment,
            "svc" or "service" or "services" => StatKind.Service,
            "ksvc" or "kservice" or "kservices" => StatKind.KnativeService,
            _ => null,
        };
        if (kind is null)
        {
            await Fail(c, 400, "BadRequest", $"kind \"{kindText}\": expected deploy, svc or ksvc");
            return;
        }

        if (!TryWindow(query["window"].FirstOrDefault(), out var seconds, out var problem))
        {
            await Fail(c, 400, "BadRequest", problem!);
            return;
        }

        var ns = query["namespace"].FirstOrDefault() is { Length: > 0 } n ? n : null;
        var name = query["name"].FirstOrDefault() is { Length: > 0 } m ? m : null;
        var (edges, window, errors) = await GatherAsync(push, clients.CreateClient("agent"), seconds, c.RequestAborted);
        var instances = registry.Instances;
        var known = kind switch
        {
            StatKind.Deployment => instances.Select(i => (i.Namespace, i.Workload)),
            StatKind.KnativeService => instances.Where(i => i.Labels.ContainsKey(ServingLabels.Service)).Select(i => (i.Namespace, i.Labels[ServingLabels.Service])),
            _ => name is null ? [] : [(ns ?? "default", name)],
        };
        var rows = LiveAggregation.Stat(kind.Value, edges, window, KnativeServiceOf(registry), known.Distinct())
            .Where(r => (ns is null || r.Namespace == ns) && (name is null || r.Name == name))
            .ToList();
        if (name is not null && rows.Count == 0)
        {
            await Fail(c, 404, "NotFound", $"no {Singular(kind.Value)} named \"{name}\"{(ns is null ? "" : $" in namespace {ns}")} has instances or traffic");
            return;
        }

        await Results.Json(new StatReport(KindName(kind.Value), window, rows, errors), WireJsonContext.Default.StatReport).ExecuteAsync(c);
    }

    private static async Task EdgesAsync(HttpContext c, PushServer push, ServiceRegistry registry, IHttpClientFactory clients)
    {
        var query = c.Request.Query;
        var kindText = query["kind"].FirstOrDefault() ?? "";
        EdgeKind? kind = kindText.ToLowerInvariant() switch
        {
            "deploy" or "deployment" or "deployments" => EdgeKind.Deployment,
            "po" or "pod" or "pods" => EdgeKind.Pod,
            "svc" or "service" or "services" => EdgeKind.Service,
            "ksvc" or "kservice" or "kservices" => EdgeKind.KnativeService,
            _ => null,
        };
        if (kind is null)
        {
            await Fail(c, 400, "BadRequest", $"kind \"{kindText}\": expected deploy, po, svc or ksvc");
            return;
        }

        if (!TryWindow(query["window"].FirstOrDefault(), out var seconds, out var problem))
        {
            await Fail(c, 400, "BadRequest", problem!);
            return;
        }

        var ns = query["namespace"].FirstOrDefault() is { Length: > 0 } n ? n : null;
        var (edges, window, errors) = await GatherAsync(push, clients.CreateClient("agent"), seconds, c.RequestAborted);
        var rows = LiveAggregation.Edges(kind.Value, edges, window, KnativeServiceOf(registry))
            .Where(r => ns is null || r.SourceNamespace == ns || r.DestinationNamespace == ns)
            .ToList();
        await Results.Json(new EdgesReport(EdgeKindName(kind.Value), window, rows, errors), WireJsonContext.Default.EdgesReport).ExecuteAsync(c);
    }

    /// <summary>The Knative Service a workload (namespace, Deployment) is a revision of, from its instances' labels.</summary>
    private static Func<string, string, string?> KnativeServiceOf(ServiceRegistry registry)
    {
        var instances = registry.Instances;
        return (space, workload) => instances
            .FirstOrDefault(i => i.Namespace == space && i.Workload == workload && i.Labels.ContainsKey(ServingLabels.Service))?.Labels[ServingLabels.Service];
    }

    private static string EdgeKindName(EdgeKind kind) => kind switch
    {
        EdgeKind.Deployment => "deployment",
        EdgeKind.Pod => "pod",
        EdgeKind.Service => "service",
        _ => "ksvc",
    };

    /// <summary>A window such as <c>30s</c> or <c>1m</c>: whole seconds from 1 to what the proxies keep.</summary>
    internal static bool TryWindow(string? text, out int seconds, out string? problem)
    {
        var window = DefaultWindow;
        if (text is { Length: > 0 } && !Durations.TryParse(text, out window))
        {
            (seconds, problem) = (0, $"window \"{text}\" is not a duration such as 30s or 1m");
            return false;
        }

        seconds = (int)window.TotalSeconds;
        if (window.Ticks % TimeSpan.TicksPerSecond != 0 || seconds < 1 || seconds > LiveWindow.MaxSeconds)
        {
            problem = $"window \"{text}\": whole seconds from 1s to {DefaultWindow.TotalSeconds:0}s (the proxies keep the last minute)";
            return false;
        }

        problem = null;
        return true;
    }

    /// <summary>Every connected proxy's edges over the window, asked at once; the window is the longest any proxy covered.</summary>
    private static async Task<(List<LiveEdge> Edges, double Window, List<string> Errors)> GatherAsync(PushServer push, HttpClient client, int seconds, CancellationToken ct)
    {
        var proxies = push.Connections.Where(p => p.Hello.AdminUrl is not null).ToList();
        var answers = await Task.WhenAll(proxies.Select(p => AskAsync(client, p.Hello.Name, $"{p.Hello.AdminUrl!.TrimEnd('/')}/live/stats?window={seconds}", ct)));
        var edges = answers.SelectMany(a => a.Edges).ToList();
        var window = answers.Where(a => a.Error is null).Select(a => a.WindowSeconds).DefaultIfEmpty(seconds).Max();
        return (edges, window, answers.Where(a => a.Error is not null).Select(a => $"{a.Proxy}: {a.Error}").ToList());
    }

    private static async Task<ProxyLiveStats> AskAsync(HttpClient client, string proxy, string url, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await client.GetAsync(url, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return new ProxyLiveStats(proxy, 0, [], $"answered {(int)response.StatusCode}");
            }

            var stats = await JsonSerializer.DeserializeAsync(await response.Content.ReadAsStreamAsync(timeout.Token), WireJsonContext.Default.ProxyLiveStats, timeout.Token);
            return stats is null ? new ProxyLiveStats(proxy, 0, [], "answered nothing") : stats with { Proxy = proxy };
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return new ProxyLiveStats(proxy, 0, [], e.Message);
        }
    }

    private static string KindName(StatKind kind) => kind switch
    {
        StatKind.Deployment => "deployment",
        StatKind.Service => "service",
        _ => "ksvc",
    };

    private static string Singular(StatKind kind) => kind switch
    {
        StatKind.Deployment => "deployment",
        StatKind.Service => "service",
        _ => "Knative Service",
    };

    private static Task Fail(HttpContext c, int status, string reason, string message) => ApiResults.Failure(status, reason, message).ExecuteAsync(c);
}

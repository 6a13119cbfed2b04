using System.Net.Http.Json;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Trellis.Agent.Metering;
using Trellis.Api.Metering;
using Trellis.Api.Snapshots;
using Trellis.Proxy;

namespace Trellis.Agent;

/// <summary>
/// Tells the control plane's autoscaler what a proxy sees: every second the load on its inbound
/// listeners (Knative's queue-proxy metrics), and at once any demand for a revision at zero (the
/// activator's poke), so a scale from zero starts while the first request waits. In the same second
/// it posts what it meters: the cold starts its activator saw and, on a node, each revision
/// instance's invocations, durations, CPU and peak memory (<see cref="UsageCollector"/>).
/// </summary>
public sealed partial class ServingReporter : IAsyncDisposable
{
    private readonly ProxyServer _proxy;
    private readonly HttpClient _http;
    private readonly ILogger _log;
    private readonly bool _reportLoad;
    private readonly UsageCollector? _usage;
    private readonly string _reporter;
    private readonly Channel<(string Cluster, int Waiting)> _demand = Channel.CreateBounded<(string, int)>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="reportLoad">True for a node proxy (it holds instances' inbound listeners); a gateway only reports demand.</param>
    /// <param name="name">The proxy's name; with a random suffix per run it names this reporter's metering series.</param>
    /// <param name="usage">A node's instance metering; a gateway has none and reports cold starts only.</param>
    public ServingReporter(ProxyServer proxy, Uri controlPlane, bool reportLoad, ILogger log, string name = "proxy", UsageCollector? usage = null, Trellis.Api.Access.IRequestCredential? credential = null, Trellis.Api.Access.ControlPlaneTrust? trust = null)
        : this(proxy, [controlPlane], reportLoad, log, name, usage, credential, trust)
    {
    }

    /// <param name="controlPlanes">Every control-plane replica; reports go to one that answers.</param>
    /// <param name="credential">The reporter's identity: the node's signature, or a proxy token.</param>
    public ServingReporter(ProxyServer proxy, IReadOnlyList<Uri> controlPlanes, bool reportLoad, ILogger log, string name = "proxy", UsageCollector? usage = null, Trellis.Api.Access.IRequestCredential? credential = null, Trellis.Api.Access.ControlPlaneTrust? trust = null)
    {
        _proxy = proxy;
        _reportLoad = reportLoad;
        _usage = usage;
        _reporter = $"{name}#{Guid.NewGuid().ToString("N")[..12]}";
        _log = log;
        HttpMessageHandler handler = Replicas.ReplicaFailoverHandler.Create(controlPlanes, trust);
        if (credential is not null)
        {
            handler = new Trellis.Api.Access.CredentialHandler(credential, handler);
        }

        _http = new HttpClient(handler) { BaseAddress = controlPlanes[0], Timeout = TimeSpan.FromSeconds(5) };
        proxy.DemandRaised += OnDemand;
        _loop = Task.WhenAll(SendDemandAsync(_stop.Token), reportLoad ? SendLoadAsync(_stop.Token) : Task.CompletedTask, SendMeteringAsync(_stop.Token));
    }

    public async ValueTask DisposeAsync()
    {
        _proxy.DemandRaised -= OnDemand;
        await _stop.CancelAsync();
        _demand.Writer.TryComplete();
        await _loop;
        _http.Dispose();
        _stop.Dispose();
    }

    private void OnDemand(string cluster, int waiting) => _demand.Writer.TryWrite((cluster, waiting));

    private async Task SendDemandAsync(CancellationToken stop)
    {
        try
        {
            await foreach (var (cluster, waiting) in _demand.Reader.ReadAllAsync(stop))
            {
                await PostAsync("/serving/v1/demand", new DemandReport(cluster, waiting), WireJsonContext.Default.DemandReport, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendLoadAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var loads = _proxy.SampleLoad()
                    .Where(l => l.Listener.EndsWith("/inbound", StringComparison.Ordinal))
                    .Select(l => new LoadReport(l.Listener, l.Workload, l.AverageConcurrency, l.Requests, l.From, l.To))
                    .ToList();
                if (loads.Count > 0)
                {
                    await PostAsync("/serving/v1/load", loads, WireJsonContext.Default.IReadOnlyListLoadReport, stop);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendMeteringAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                await ReportMeteringAsync(stop);
            }
        }
        catch (OperationCanceledException)
        {
        }

        // A last report on the way out, so a clean stop loses nothing metered since the last tick.
        using var last = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await ReportMeteringAsync(last.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ReportMeteringAsync(CancellationToken stop)
    {
        var instances = _usage?.Collect(_proxy.SampleDurations()) ?? [];
        var coldStarts = _proxy.ColdStarts();
        if ((instances.Count > 0 || coldStarts.Count > 0)
            && await PostAsync("/serving/v1/metering", new MeteringReport(_reporter, instances, coldStarts), WireJsonContext.Default.MeteringReport, stop))
        {
            _usage?.Delivered(instances);
        }
    }

    /// <summary>Posts with the wire's generated JSON (no reflection: this runs in the Native AOT proxy too).</summary>
    private async Task<bool> PostAsync<T>(string path, T body, JsonTypeInfo<T> json, CancellationToken stop)
    {
        try
        {
            using var response = await _http.PostAsJsonAsync(path, body, json, stop);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
        {
            LogReportFailed(_log, path, e.Message);
            return false;
        }
    }

    [LoggerMessage(EventId = 4301, Level = LogLevel.Debug, Message = "Reporting {Path} to the control plane failed: {Reason}")]
    private static partial void LogReportFailed(ILogger log, string path, string reason);
}

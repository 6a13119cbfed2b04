using System.Net;
using Microsoft.Extensions.Logging;
using Trellis.Api.Metering;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy;

/// <summary>
/// The data plane: serves the listeners, routes and clusters of the last accepted
/// <see cref="ProxySnapshot"/>. Snapshots are applied one at a time; requests never wait for that.
/// </summary>
public sealed class ProxyServer : IAsyncDisposable
{
    private readonly ProxyServerOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILogger _accessLog;
    private readonly ILogger _servingLog;
    private readonly SnapshotHolder _snapshots = new();
    private readonly UpstreamClients _clients;
    private readonly HttpForwarder _forwarder;
    private readonly RequestPipeline _pipeline;
    private readonly UpstreamConnectionPool _pool;
    private readonly Http1Services _fastPath;
    private readonly SemaphoreSlim _applyLock = new(1, 1);
    private readonly ActivationQueues _activation;
    private readonly ColdStartStats _coldStarts;
    private readonly ProxyTelemetry _telemetry;
    private readonly Tcp.TcpServices _tcp;
    // Serializes SampleLoad callers; requests never take it.
    private readonly object _sampleLock = new();
    // Guarded by _applyLock; requests never touch it.
    private readonly Dictionary<string, ProxyListener> _listeners = new(StringComparer.Ordinal);
    private readonly List<Task> _draining = [];
    private IReadOnlyList<IPEndPoint> _boundEndpoints = [];
    private IReadOnlyDictionary<string, ListenerStats> _stats = new Dictionary<string, ListenerStats>();
    private (ListenerConfig Config, ListenerStats Stats)[] _loads = [];
    private bool _disposed;
    private readonly Upstream.MeshConnectors _connectors;

    public ProxyServer(ProxyServerOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options;
        _loggerFactory = loggerFactory;
        _time = time ?? TimeProvider.System;
        _logger = loggerFactory.CreateLogger<ProxyServer>();
        _accessLog = loggerFactory.CreateLogger("Trellis.Proxy.AccessLog");
        _servingLog = loggerFactory.CreateLogger("Trellis.Proxy.Serving");
        _activation = new ActivationQueues(_snapshots, _time, RaiseDemand, _servingLog);
        _coldStarts = new ColdStartStats();
        _clients = new UpstreamClients(options);
        var forwardLog = loggerFactory.CreateLogger<HttpForwarder>();
        _telemetry = new ProxyTelemetry(options.Random, _time);
        _pool = new UpstreamConnectionPool(options, _time);
        _forwarder = new HttpForwarder(options, _time, forwardLog, _pool);
        _pipeline = new RequestPipeline(
            _snapshots, options, _time, _activation, _coldStarts, new TelemetryStage(_accessLog, _time, _telemetry, options.NodeName), forwardLog, _servingLog,
            new Mirroring(_pool, options, forwardLog));
        var tls = new Security.Tls.MeshTls(Identities, _time, loggerFactory.CreateLogger("Trellis.Proxy.MeshTls"), _snapshots);
        _connectors = new Upstream.MeshConnectors(tls, () => Forwarding.UpstreamClients.CreateHandler(options));
        _tcp = new Tcp.TcpServices(_snapshots, _telemetry, options, _time, loggerFactory.CreateLogger("Trellis.Proxy.Tcp"), tls);
        _fastPath = new Http1Services(_snapshots, _pool, options, _time, _accessLog, forwardLog, _pipeline) { Tls = tls, Tcp = _tcp };
    }

    /// <summary>The proxy's name (<see cref="ProxyServerOptions.NodeName"/>), as the live views name it.</summary>
    public string Name => _options.NodeName;

    /// <summary>The last accepted snapshot (<see cref="ProxySnapshot.Empty"/> before the first).</summary>
    public ProxySnapshot Current => _snapshots.Current.Source;

    /// <summary>The workload certificates and trust bundle this proxy holds (filled by its agent from the CA).</summary>
    public Identity.WorkloadIdentities Identities { get; } = new();

    /// <summary>How this proxy would route <paramref name="request"/> with the snapshot it serves now (<c>trellis route explain</c>).</summary>
    public Trellis.Api.Explain.RouteExplanation Explain(Trellis.Api.Explain.ExplainRequest request) =>
        global::Trellis.Proxy.Explain.RouteExplainer.Explain(_snapshots.Current, request, _options.NodeName);

    /// <summary>The clusters for <paramref name="host"/> (all when null) with their endpoints and outlier state now.</summary>
    public IReadOnlyList<Trellis.Api.Explain.ClusterStatus> Clusters(string? host) =>
        global::Trellis.Proxy.Explain.RouteExplainer.Clusters(_snapshots.Current, host);

    /// <summary>The endpoints the listeners of <see cref="Current"/> are bound to, in snapshot order.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndpoints => Volatile.Read(ref _boundEndpoints);

    /// <summary>
    /// Requests wait for an endpoint of an activation cluster (<see cref="ClusterConfig.Activation"/>)
    /// that has none: raised when the first one starts waiting and then at most once a second while
    /// any wait, with the cluster's name and how many wait, so the control plane can scale it from
    /// zero. Handlers run on the request or timer thread and should return quickly; their exceptions
    /// are logged and otherwise ignored.
    /// </summary>
    public event Action<string, int>? DemandRaised;

    /// <summary>Requests currently waiting for an endpoint of activation cluster <paramref name="cluster"/>.</summary>
    public int Waiting(string cluster) => _activation.Waiting(cluster);

    /// <summary>Whether a listener named <paramref name="listenerName"/> of the current snapshot is bound and serving.</summary>
    public bool IsListening(string listenerName) => Volatile.Read(ref _stats).ContainsKey(listenerName);

    /// <summary>Raised after a snapshot was applied and acknowledged (its listeners serve); handlers should return quickly.</summary>
    public event Action? SnapshotApplied;

    /// <summary>Idle pooled upstream connections to <paramref name="port"/> on 127.0.0.1 (for tests that wait for a connection's return).</summary>
    internal int PooledConnections(int port) => _pool.IdleCount("127.0.0.1", port, Upstream.TcpConnector.Instance);

    /// <summary>
    /// The load of each listener of <see cref="Current"/> since the previous call (or since the
    /// listener started): time-weighted average in-flight requests and requests started, what
    /// Knative's queue-proxy reports to the autoscaler each second. Requests never wait for it.
    /// </summary>
    public IReadOnlyList<ListenerLoad> SampleLoad()
    {
        lock (_sampleLock)
        {
            var listeners = Volatile.Read(ref _loads);
            var now = ConcurrencyTracker.ToMicros(_time, _time.GetTimestamp());
            var to = _time.GetUtcNow();
            var result = new ListenerLoad[listeners.Length];
            for (var i = 0; i < listeners.Length; i++)
            {
                var (config, stats) = listeners[i];
                var (average, requests) = stats.Load.Sample(now);
                result[i] = new ListenerLoad(config.Name, config.Workload, average, requests, stats.SampledUntil, to);
                stats.SampledUntil = to;
            }

            return result;
        }
    }

    /// <summary>
    /// Requests each listener of <see cref="Current"/> completed since the previous call (or since
    /// the listener started), by duration from request start to response end: per-instance
    /// invocations for metering. Callers serialize calls; requests never wait for it.
    /// </summary>
    public IReadOnlyList<ListenerDurations> SampleDurations()
    {
        lock (_sampleLock)
        {
            var listeners = Volatile.Read(ref _loads);
            var result = new ListenerDurations[listeners.Length];
            for (var i = 0; i < listeners.Length; i++)
            {
                var (config, stats) = listeners[i];
                var now = stats.Durations.Snapshot();
                var previous = stats.DurationsSampled;
                stats.DurationsSampled = now;
                result[i] = new ListenerDurations(config.Name, config.Workload, previous is null ? now : Subtract(now, previous));
            }

            return result;
        }
    }

    /// <summary>Istio's standard metrics of this proxy in the Prometheus text format (<c>/stats/prometheus</c>).</summary>
    public string PrometheusMetrics() => _telemetry.Prometheus();

    internal ProxyTelemetry Telemetry => _telemetry;

    /// <summary>Cold starts this proxy's activator has seen since it started, per cluster (cumulative).</summary>
    public IReadOnlyList<ColdStartUsage> ColdStarts() => _coldStarts.Snapshot();

    /// <summary>
    /// Validates <paramref name="snapshot"/>; if it is invalid, returns every error and changes
    /// nothing. Otherwise swaps the routing state in atomically (in-flight requests finish on the
    /// old one), starts new listeners, keeps unchanged ones running and drains removed ones.
    /// </summary>
    public async Task<SnapshotApplyResult> ApplyAsync(ProxySnapshot snapshot, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        await _applyLock.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var errors = SnapshotValidator.Validate(snapshot);
            if (errors.Count > 0)
            {
                ProxyLog.SnapshotRejected(_logger, _options.NodeName, snapshot.Version ?? string.Empty, errors.Count, errors[0]);
                return new SnapshotApplyResult(false, errors);
            }

            var previous = _snapshots.Current;
            var next = SnapshotCompiler.Compile(snapshot, previous, _clients, _options, _time, _connectors);

            // A replaced listener whose new binding collides with its old one must release the port first.
            var wanted = snapshot.Listeners;
            var replaced = _listeners.Values
                .Where(l => !wanted.Any(w => w.Name == l.Config.Name && l.CanServe(w)))
                .ToList();
            foreach (var old in replaced.Where(old => wanted.Any(w => w.Port != 0 && w.Port == old.Config.Port && w.Address == old.Config.Address)))
            {
                await old.StopAsync();
                _listeners.Remove(old.Config.Name);
                replaced.Remove(old);
            }

            // Swap before starting listeners, so a new listener's first request finds its route table.
            _telemetry.OnSnapshot(snapshot, next);
            _snapshots.Swap(next);
            var started = new List<ProxyListener>();
            for (var i = 0; i < wanted.Count; i++)
            {
                var config = wanted[i];
                if (_listeners.TryGetValue(config.Name, out var existing) && existing.CanServe(config))
                {
                    continue;
                }

                try
                {
                    started.Add(config.Tcp is not null
                        ? ProxyListener.StartTcp(config, _tcp, _loggerFactory)
                        : await ProxyListener.StartAsync(config, _options, _loggerFactory, CreateHandler(config.Name, config.Identity), _fastPath, ct));
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException or InvalidOperationException)
                {
                    // Binding can fail in ways validation cannot see (port taken by another process):
                    // undo and NACK, so the previous snapshot keeps serving as it was.
                    // Back to the previous configuration, recompiled from this one: live state built for it
                    // (outlier detectors, which retire their predecessors) carries on rather than stopping.
                    var restored = SnapshotCompiler.Compile(previous.Source, next, _clients, _options, _time, _connectors);
                    RetireClusters(next, restored);
                    _snapshots.Swap(restored);
                    foreach (var listener in started)
                    {
                        await listener.StopAsync();
                    }

                    var error = $"listeners[{i}]: cannot listen on {config.Address}:{config.Port}: {ex.Message}";
                    ProxyLog.SnapshotRejected(_logger, _options.NodeName, snapshot.Version, 1, error);
                    return new SnapshotApplyResult(false, [error]);
                }
            }

            foreach (var old in replaced)
            {
                _listeners.Remove(old.Config.Name);
                _draining.Add(old.StopAsync());
            }

            foreach (var listener in started)
            {
                _listeners[listener.Config.Name] = listener;
            }

            _draining.RemoveAll(t => t.IsCompleted);
            Volatile.Write(ref _stats, _listeners.ToDictionary(l => l.Key, l => l.Value.Stats, StringComparer.Ordinal));
            Volatile.Write(ref _boundEndpoints, wanted.Select(w => _listeners[w.Name].BoundEndPoint).ToArray());
            Volatile.Write(ref _loads, wanted.Select(w => (w, _listeners[w.Name].Stats)).ToArray());

            RetireClusters(previous, next);

            // Only now that the snapshot stays: held requests go to the clusters that have endpoints.
            _activation.OnSnapshotSwapped(next);
            ProxyLog.SnapshotAccepted(_logger, _options.NodeName, snapshot.Version, wanted.Count, snapshot.Clusters.Count);
            SnapshotApplied?.Invoke();
            return SnapshotApplyResult.Ack;
        }
        finally
        {
            _applyLock.Release();
        }
    }

    /// <summary>Requests received by a listener of the current snapshot since it started; telemetry and tests.</summary>
    internal long GetRequestCount(string listenerName)
    {
        return Volatile.Read(ref _stats).TryGetValue(listenerName, out var stats) ? stats.Requests : 0;
    }

    /// <summary>The concurrency breaker of a listener of the current snapshot, if it has one; telemetry and tests.</summary>
    internal InstanceBreaker? GetBreaker(string listenerName) =>
        _snapshots.Current.ServingByListener.TryGetValue(listenerName, out var serving) ? serving.Breaker : null;

    public async ValueTask DisposeAsync()
    {
        await _applyLock.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await Task.WhenAll(_listeners.Values.Select(l => l.StopAsync()).Concat(_draining));
            _listeners.Clear();
            RetireClusters(_snapshots.Current, CompiledSnapshot.Empty);
            _clients.Dispose();
            _pool.Dispose();
            await _telemetry.AccessLogs.DisposeAsync();
            _telemetry.Spans.Dispose();
        }
        finally
        {
            _applyLock.Release();
        }
    }

    private Func<ListenerStats, Microsoft.AspNetCore.Http.RequestDelegate> CreateHandler(string listenerName, string? identity) =>
        stats =>
        {
            // Runs before the listener accepts its first request: the origin of its first load sample.
            stats.SampledUntil = _time.GetUtcNow();
            stats.Load.Start(ConcurrencyTracker.ToMicros(_time, _time.GetTimestamp()));
            return new ListenerRequestHandler(listenerName, _pipeline, _forwarder, stats, _time, _options.RequestIdGenerator, _servingLog) { Identity = identity }.HandleAsync;
        };

    /// <summary>Stops the live state (outlier detectors' timers) of clusters of <paramref name="old"/> that <paramref name="current"/> no longer has.</summary>
    private static void RetireClusters(CompiledSnapshot old, CompiledSnapshot current)
    {
        foreach (var (name, cluster) in old.Clusters)
        {
            if (!current.Clusters.ContainsKey(name))
            {
                cluster.Outlier?.Dispose();
            }
        }
    }

    private static HistogramCounts Subtract(HistogramCounts now, HistogramCounts before) =>
        new(now.Counts.Select((c, i) => c - before.Counts[i]).ToArray(), now.SumSeconds - before.SumSeconds);

    private void RaiseDemand(string cluster, int waiting)
    {
        ProxyLog.DemandRaised(_servingLog, cluster, waiting);
        var handler = DemandRaised;
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(cluster, waiting);
        }
        catch (Exception ex)
        {
            ProxyLog.DemandHandlerFailed(_servingLog, cluster, ex);
        }
    }
}

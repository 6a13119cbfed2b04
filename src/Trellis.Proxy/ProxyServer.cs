using System.Net;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Routing;
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
    private readonly SnapshotHolder _snapshots = new();
    private readonly UpstreamClients _clients;
    private readonly HttpForwarder _forwarder;
    private readonly SemaphoreSlim _applyLock = new(1, 1);
    // Guarded by _applyLock; requests never touch it.
    private readonly Dictionary<string, ProxyListener> _listeners = new(StringComparer.Ordinal);
    private readonly List<Task> _draining = [];
    private IReadOnlyList<IPEndPoint> _boundEndpoints = [];
    private IReadOnlyDictionary<string, ListenerStats> _stats = new Dictionary<string, ListenerStats>();
    private bool _disposed;

    public ProxyServer(ProxyServerOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options;
        _loggerFactory = loggerFactory;
        _time = time ?? TimeProvider.System;
        _logger = loggerFactory.CreateLogger<ProxyServer>();
        _accessLog = loggerFactory.CreateLogger("Trellis.Proxy.AccessLog");
        _clients = new UpstreamClients(options);
        _forwarder = new HttpForwarder(options, _time, loggerFactory.CreateLogger<HttpForwarder>());
    }

    /// <summary>The last accepted snapshot (<see cref="ProxySnapshot.Empty"/> before the first).</summary>
    public ProxySnapshot Current => _snapshots.Current.Source;

    /// <summary>The endpoints the listeners of <see cref="Current"/> are bound to, in snapshot order.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndpoints => Volatile.Read(ref _boundEndpoints);

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
            var next = SnapshotCompiler.Compile(snapshot, previous, _clients, _options);

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
                    started.Add(await ProxyListener.StartAsync(config, _options, _loggerFactory, CreateHandler(config.Name), ct));
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException or InvalidOperationException)
                {
                    // Binding can fail in ways validation cannot see (port taken by another process):
                    // undo and NACK, so the previous snapshot keeps serving as it was.
                    _snapshots.Swap(previous);
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
            ProxyLog.SnapshotAccepted(_logger, _options.NodeName, snapshot.Version, wanted.Count, snapshot.Clusters.Count);
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
            _clients.Dispose();
        }
        finally
        {
            _applyLock.Release();
        }
    }

    private Func<ListenerStats, Microsoft.AspNetCore.Http.RequestDelegate> CreateHandler(string listenerName) =>
        stats => new ListenerRequestHandler(listenerName, _snapshots, _forwarder, stats, _accessLog, _time, _options.Random).HandleAsync;
}

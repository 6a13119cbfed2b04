using System.Collections.Concurrent;
using System.Net;

namespace Trellis.Proxy.Http1;

/// <summary>
/// Idle keep-alive connections per upstream endpoint, shared by every listener and kept across
/// snapshots like <see cref="Forwarding.UpstreamClients"/>. Last in, first out, so that a burst's
/// extra connections age out while the warm ones keep working; a connection older than the pooled
/// lifetime or idle longer than the idle timeout is closed instead of reused.
/// </summary>
internal sealed class UpstreamConnectionPool : IDisposable
{
    private readonly ConcurrentDictionary<Key, Endpoint> _endpoints = new();
    private readonly ProxyServerOptions _options;
    private readonly TimeProvider _time;
    private int _disposed;

    public UpstreamConnectionPool(ProxyServerOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
    }

    /// <summary>Pooled connections are kept apart by endpoint and by how they were opened (their transport).</summary>
    internal readonly record struct Key(string Address, int Port, Upstream.IUpstreamConnector Connector);

    /// <summary>A pooled connection to the endpoint, or null when there is none to reuse.</summary>
    /// <param name="settings">The cluster's connection pool settings: an idle timeout of its own (<c>http.idleTimeout</c>).</param>
    public UpstreamConnection? TakeIdle(string address, int port, Upstream.IUpstreamConnector connector, Trellis.Api.Snapshots.ConnectionPoolConfig? settings = null)
    {
        if (!_endpoints.TryGetValue(new Key(address, port, connector), out var endpoint))
        {
            return null;
        }

        var now = _time.GetTimestamp();
        while (endpoint.TryPop(out var connection))
        {
            if (_time.GetElapsedTime(connection.IdleSince, now) < (settings?.IdleTimeout ?? _options.PooledConnectionIdleTimeout)
                && _time.GetElapsedTime(connection.CreatedAt, now) < connection.MaxAge)
            {
                connection.Reused = true;
                return connection;
            }

            connection.Dispose();
        }

        return null;
    }

    /// <summary>
    /// Opens a new connection, bounded by the connect timeout and <paramref name="cancellationToken"/>
    /// (a route timeout or a client that leaves); null with the error when it fails.
    /// </summary>
    /// <param name="settings">The cluster's connection pool settings: its connect timeout (<c>tcp.connectTimeout</c>),
    /// how many requests the connection may carry (<c>http.maxRequestsPerConnection</c>) and for how long (<c>tcp.maxConnectionDuration</c>).</param>
    public async ValueTask<(UpstreamConnection? Connection, Exception? Error)> ConnectAsync(
        string address, int port, Upstream.IUpstreamConnector connector, Trellis.Api.Snapshots.ConnectionPoolConfig? settings = null,
        CancellationToken cancellationToken = default)
    {
        var key = new Key(address, port, connector);
        var endpoint = _endpoints.GetOrAdd(key, static key => new Endpoint(
            IPAddress.TryParse(key.Address, out var ip) ? new IPEndPoint(ip, key.Port) : new DnsEndPoint(key.Address, key.Port)));
        using var timeout = new CancellationTokenSource(settings?.ConnectTimeout ?? _options.ConnectTimeout, _time);
        using var caller = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout);
        var (transport, error) = await connector.ConnectAsync(endpoint.Address, timeout.Token);
        return transport is null
            ? (null, error)
            : (new UpstreamConnection(transport, key, _time.GetTimestamp())
            {
                RequestLimit = settings?.MaxRequestsPerConnection ?? 0,
                MaxAge = settings?.MaxConnectionDuration is { } age && age < _options.PooledConnectionLifetime ? age : _options.PooledConnectionLifetime,
            }, null);
    }

    /// <summary>Idle connections pooled for the endpoint now (including any past their idle timeout).</summary>
    public int IdleCount(string address, int port, Upstream.IUpstreamConnector connector) =>
        _endpoints.TryGetValue(new Key(address, port, connector), out var endpoint) ? endpoint.Count : 0;

    /// <summary>Returns a connection whose last exchange ended cleanly, for the next request to reuse.</summary>
    public void Return(UpstreamConnection connection)
    {
        connection.Requests++;
        if (Volatile.Read(ref _disposed) != 0 || !_endpoints.TryGetValue(connection.PoolKey, out var endpoint)
            || (connection.RequestLimit > 0 && connection.Requests >= connection.RequestLimit)
            || _time.GetElapsedTime(connection.CreatedAt) >= connection.MaxAge)
        {
            connection.Dispose();
            return;
        }

        connection.IdleSince = _time.GetTimestamp();
        connection.Start = connection.End = 0;
        endpoint.Push(connection);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var endpoint in _endpoints.Values)
        {
            while (endpoint.TryPop(out var connection))
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>A lock around a stack rather than a ConcurrentStack, which allocates a node per push, i.e. per request.</summary>
    private sealed class Endpoint(EndPoint address)
    {
        private readonly Stack<UpstreamConnection> _idle = new();

        public EndPoint Address { get; } = address;

        public int Count
        {
            get
            {
                lock (_idle)
                {
                    return _idle.Count;
                }
            }
        }

        public void Push(UpstreamConnection connection)
        {
            lock (_idle)
            {
                _idle.Push(connection);
            }
        }

        public bool TryPop(out UpstreamConnection connection)
        {
            lock (_idle)
            {
                return _idle.TryPop(out connection!);
            }
        }
    }
}

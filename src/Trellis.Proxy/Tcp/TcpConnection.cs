using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Telemetry;
using Trellis.Proxy.Telemetry.Metrics;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// One proxied TCP connection, Envoy's <c>tcp_proxy</c> steps in order:
/// (1) with SNI routes, read the ClientHello's server name (the bytes stay for the upstream);
/// (2) the listener's first matching route (none: close, <c>NR</c>);
/// (3) a cluster by weight and its <c>tcp.maxConnections</c> slot (full: close, <c>UO</c>);
/// (4) an endpoint by the cluster's balancer, skipping ejected ones, or for a passthrough cluster the address the client
/// meant (<see cref="TcpRouteTable.OriginalDestination"/>) (none: close, <c>UH</c>);
/// (5) connect within <c>tcp.connectTimeout</c>, originating TLS when a DestinationRule says SIMPLE or MUTUAL (failure:
/// close, <c>UF</c>, counted by outlier detection);
/// (6) relay (<see cref="TcpRelay"/>) under <c>tcp.idleTimeout</c> and <c>tcp.maxConnectionDuration</c>.
/// Every connection is counted in Istio's TCP metrics, failures included (opened and closed with their flag).
/// </summary>
internal static class TcpConnection
{
    public static async Task HandleAsync(Socket client, string listener, TcpServices services, CancellationToken stop)
    {
        var started = services.Time.GetTimestamp();
        var snapshot = services.Snapshots.Current;
        var telemetry = services.Telemetry.Listener(listener);
        using (client)
        {
            if (!snapshot.TcpByListener.TryGetValue(listener, out var table))
            {
                return; // the listener left the snapshot between accept and now
            }

            if (table.RefusesCleartext)
            {
                TcpLog.Refused(services.Log, listener, "-", "PeerAuthentication STRICT: TCP relays take no mTLS yet, so no connection is accepted");
                return;
            }

            byte[]? peeked = null;
            var peekedLength = 0;
            try
            {
                string? serverName = null;
                if (table.SniPeek)
                {
                    peeked = ArrayPool<byte>.Shared.Rent(TlsClientHello.MaxBytes);
                    (peekedLength, serverName) = await PeekServerNameAsync(client, peeked, services.Time, stop);
                }

                var local = (client.LocalEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
                var remote = (client.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
                var route = table.Match(local, remote, serverName);
                var cluster = route?.PickCluster(services.Options.Random);
                if (route is null || cluster is null)
                {
                    Count(services.Telemetry, telemetry, null, null, route is null ? ResponseFlags.NoRouteFound : ResponseFlags.NoHealthyUpstream);
                    TcpLog.Refused(services.Log, listener, route?.Name ?? "-", route is null ? "no route" : "no cluster");
                    return;
                }

                var original = cluster.Config.LoadBalancer == Api.Snapshots.LoadBalancerKind.Passthrough ? table.OriginalDestination(serverName) : null;
                await ConnectAndRelayAsync(client, listener, route.Name, cluster, original, peeked.AsMemory(0, peekedLength), services, telemetry, started, stop);
            }
            finally
            {
                if (peeked is not null)
                {
                    ArrayPool<byte>.Shared.Return(peeked);
                }
            }
        }
    }

    /// <param name="original">For a passthrough cluster, where the client meant to connect (null: nowhere known).</param>
    private static async Task ConnectAndRelayAsync(
        Socket client, string listener, string route, ClusterState cluster, (string Host, int Port)? original, ReadOnlyMemory<byte> prefix, TcpServices services,
        ListenerTelemetry? telemetry, long started, CancellationToken stop)
    {
        var slots = cluster.ConnectionSlots;
        if (slots is not null && !slots.TryTake())
        {
            Count(services.Telemetry, telemetry, cluster, null, ResponseFlags.UpstreamOverflow);
            TcpLog.Refused(services.Log, listener, route, $"{cluster.Name}: tcp.maxConnections ({slots.Max}) reached");
            return;
        }

        try
        {
            var endpoint = cluster.Config.LoadBalancer != Api.Snapshots.LoadBalancerKind.Passthrough ? cluster.PickEndpoint()
                : original is { } to && cluster.PassthroughEndpoint(to.Host, to.Port) is var named && !PassthroughLoop.IsSelf(named, services.Snapshots.Current.Source) ? named
                : null;
            if (endpoint is null)
            {
                Count(services.Telemetry, telemetry, cluster, null, ResponseFlags.NoHealthyUpstream);
                TcpLog.Refused(services.Log, listener, route, $"{cluster.Name}: no healthy upstream");
                return;
            }

            endpoint.RequestStarted(); // LEAST_CONN counts connections here as LEAST_REQUEST counts requests
            try
            {
                await RelayToAsync(client, listener, route, cluster, endpoint, prefix, services, telemetry, started, stop);
            }
            finally
            {
                endpoint.RequestEnded();
            }
        }
        finally
        {
            slots?.Return();
        }
    }

    private static async Task RelayToAsync(
        Socket client, string listener, string route, ClusterState cluster, EndpointState endpoint, ReadOnlyMemory<byte> prefix,
        TcpServices services, ListenerTelemetry? telemetry, long started, CancellationToken stop)
    {
        // SIMPLE and MUTUAL originate TLS through the one TLS client path (its settings, checks and logs); ISTIO_MUTUAL asks
        // for mesh mTLS, which the relays do not speak yet: never send the bytes in cleartext instead.
        var mode = cluster.Config.Tls?.Mode;
        var originating = mode is Api.Snapshots.ClusterTlsMode.Simple or Api.Snapshots.ClusterTlsMode.Mutual;
        var connector = originating ? cluster.Tls?.ForRelay(ServerHost(cluster, endpoint)) : cluster.Connector;
        if (connector is null || mode == Api.Snapshots.ClusterTlsMode.IstioMutual)
        {
            Count(services.Telemetry, telemetry, cluster, endpoint, ResponseFlags.UpstreamConnectionFailure);
            TcpLog.ConnectFailed(services.Log, listener, cluster.Name, $"{endpoint.Address}:{endpoint.Port}", mode == Api.Snapshots.ClusterTlsMode.IstioMutual ? "ISTIO_MUTUAL: TCP relays speak no mesh mTLS yet" : $"{mode}: this proxy has no TLS client");
            return;
        }

        var pool = cluster.Config.ConnectionPool;
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        connectTimeout.CancelAfter(pool?.ConnectTimeout ?? TcpServices.DefaultConnectTimeout);
        EndPoint target = IPAddress.TryParse(endpoint.Address, out var ip) ? new IPEndPoint(ip, endpoint.Port) : new DnsEndPoint(endpoint.Address, endpoint.Port);
        var (transport, error) = await connector.ConnectAsync(target, connectTimeout.Token);
        // Plain TCP (auto mTLS never picks TLS to a TCP relay, whose endpoints the compiler leaves unmarked) or originated TLS.
        if (transport is null)
        {
            cluster.Outlier?.Record(endpoint, AttemptOutcome.Failed(AttemptFailure.ConnectFailure));
            Count(services.Telemetry, telemetry, cluster, endpoint, ResponseFlags.UpstreamConnectionFailure);
            TcpLog.ConnectFailed(services.Log, listener, cluster.Name, $"{endpoint.Address}:{endpoint.Port}", error?.Message ?? "no transport");
            return;
        }

        using (transport)
        {
            cluster.Outlier?.Record(endpoint, AttemptOutcome.Response(200));
            var series = Series(services.Telemetry, telemetry, cluster, endpoint, ResponseFlags.None);
            series?.Open();
            var limits = new TcpRelayLimits(pool?.IdleTimeout ?? TcpServices.DefaultIdleTimeout, pool?.MaxConnectionDuration);
            var result = await TcpRelay.RunAsync(new TcpTransport(client), transport, prefix, limits, series, services.Time, stop);
            series?.Close();
            TcpLog.Closed(services.Log, listener, route, cluster.Name, $"{endpoint.Address}:{endpoint.Port}", result.End, result.Received, result.Sent,
                (long)services.Time.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>
    /// The server name an originated TLS connection sends (and, without <c>subjectAltNames</c>, checks) when the rule names
    /// none: the host the connection is for, as Envoy's auto SNI does for HTTP (a passthrough endpoint's name, else the
    /// cluster's service host); a wildcard host names no server.
    /// </summary>
    private static string? ServerHost(ClusterState cluster, EndpointState endpoint)
    {
        var host = cluster.Config.LoadBalancer == Api.Snapshots.LoadBalancerKind.Passthrough ? endpoint.Address : cluster.Config.Service?.Host;
        return host is null || host.StartsWith('*') || IPAddress.TryParse(host, out _) ? null : host;
    }

    /// <summary>
    /// Reads until the ClientHello is whole, it is clear the bytes are not TLS, the client stops sending, or
    /// <see cref="Api.Snapshots.TcpProxyConfig.SniPeekTimeout"/> passes (then the connection is routed without a name).
    /// </summary>
    private static async Task<(int Length, string? ServerName)> PeekServerNameAsync(Socket client, byte[] buffer, TimeProvider time, CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var timer = time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), timeout, Api.Snapshots.TcpProxyConfig.SniPeekTimeout, Timeout.InfiniteTimeSpan);
        var length = 0;
        try
        {
            while (length < TlsClientHello.MaxBytes)
            {
                var read = await client.ReceiveAsync(buffer.AsMemory(length, TlsClientHello.MaxBytes - length), SocketFlags.None, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                length += read;
                var parse = TlsClientHello.TryRead(buffer.AsSpan(0, length), out var name);
                if (parse != ClientHelloParse.Incomplete)
                {
                    return (length, name);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A client that sends nothing in time, or goes away: route on what is known (no name).
        }

        return (length, null);
    }

    private static void Count(ProxyTelemetry proxy, ListenerTelemetry? listener, ClusterState? cluster, EndpointState? endpoint, ResponseFlags flags)
    {
        var series = Series(proxy, listener, cluster, endpoint, flags);
        series?.Open();
        series?.Close();
    }

    /// <summary>
    /// The connection's series: on an outbound or gateway listener (reporter source) the listener's workload to the
    /// endpoint's, for the cluster's service; on an inbound listener (reporter destination) an unknown source (plain
    /// TCP carries no peer metadata) to the listener's workload, for the instance's first service. Null when the
    /// listener's metrics are off.
    /// </summary>
    private static TcpSeries? Series(ProxyTelemetry proxy, ListenerTelemetry? listener, ClusterState? cluster, EndpointState? endpoint, ResponseFlags flags)
    {
        if (listener is not { Metrics: true })
        {
            return null;
        }

        var tables = proxy.Tables;
        TcpKey key;
        if (listener.Reporter == Reporter.Source)
        {
            var destination = endpoint is not null && tables.TryGetPeer(endpoint, out var peer) ? peer : 0;
            var service = cluster is not null && tables.TryGetService(cluster.Name, out var id) ? id : 0;
            key = new TcpKey(Reporter.Source, listener.Self, destination, service, flags, MutualTls: false, listener.PlanId);
        }
        else
        {
            key = new TcpKey(Reporter.Destination, 0, listener.Self, listener.ServiceFor(default), flags, MutualTls: false, listener.PlanId);
        }

        return proxy.Metrics.Tcp.Series(key);
    }
}

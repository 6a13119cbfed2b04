using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// One proxied TCP connection, Envoy's <c>tcp_proxy</c> steps in order:
/// (0) on a workload's inbound relay, mesh mTLS is told from anything else by the first bytes and terminated, and
/// PeerAuthentication applied (<see cref="TcpInboundMtls"/>);
/// (1) with SNI routes, read the ClientHello's server name (the bytes stay for the upstream);
/// (2) the listener's first matching route (none: close, <c>NR</c>);
/// (3) a cluster by weight and its <c>tcp.maxConnections</c> slot (full: close, <c>UO</c>);
/// (4) an endpoint by the cluster's balancer, skipping ejected ones, or for a passthrough cluster the address the client
/// meant (<see cref="TcpRouteTable.OriginalDestination"/>) (none: close, <c>UH</c>);
/// (5) connect within <c>tcp.connectTimeout</c>, originating TLS when a DestinationRule says SIMPLE or MUTUAL, speaking
/// mesh mTLS as the listener's workload to a peer that takes it (auto mTLS) or when ISTIO_MUTUAL says so (failure:
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

            var read = table.SniPeek || table.InboundMtls != PeerAuthenticationMode.Disable ? ArrayPool<byte>.Shared.Rent(TlsClientHello.MaxBytes) : null;
            IUpstreamTransport? downstream = null;
            try
            {
                string? serverName = null;
                var unread = 0;
                Security.PeerIdentity? peer = null;
                if (table.InboundMtls != PeerAuthenticationMode.Disable)
                {
                    var accept = await TcpInboundMtls.AcceptAsync(client, read!, listener, table, services, stop);
                    (downstream, unread, peer) = (accept.Client, accept.Unread, accept.Peer);
                    if (downstream is null)
                    {
                        return;
                    }
                }
                else if (read is not null)
                {
                    var hello = await ClientHelloReader.ReadAsync(client, read, TcpProxyConfig.SniPeekTimeout, services.Time, stop);
                    (unread, serverName) = (hello.Length, hello.ServerName);
                }

                var local = (client.LocalEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
                var remote = (client.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
                var hop = new TcpHop(listener, "-", table.Identity, peer is not null, services, telemetry, started);
                await RouteAndRelayAsync(
                    downstream ?? new TcpTransport(client), table, hop, new TcpArrival(peer, local, remote, serverName, table.OriginalDestination(serverName)), read.AsMemory(0, unread), null, stop);
            }
            finally
            {
                downstream?.Dispose();
                if (read is not null)
                {
                    ArrayPool<byte>.Shared.Return(read);
                }
            }
        }
    }

    /// <summary>
    /// Steps (2) to (6) for a connection whose routes are known: AuthorizationPolicy (an inbound relay's), the route, the
    /// cluster, the endpoint, connect and relay. Shared by every TCP listener and by HTTP CONNECT tunnels
    /// (<see cref="ConnectTunnel"/>), so a tunnel picks, connects, counts and logs as any relayed connection.
    /// </summary>
    /// <param name="established">Called once the upstream is connected, before any byte moves (a CONNECT's 200); false:
    /// the client is gone and the connection ends. Null: nothing to say.</param>
    /// <returns>The flag of a connection refused before it was relayed (nothing was sent to the client); none once relayed.</returns>
    public static async Task<ResponseFlags> RouteAndRelayAsync(
        IUpstreamTransport client, TcpRouteTable table, TcpHop hop, TcpArrival arrival, ReadOnlyMemory<byte> prefix, Func<ValueTask<bool>>? established, CancellationToken stop)
    {
        var services = hop.Services;
        if (table.Authorize(arrival.Peer, arrival.Remote) is { Allowed: false } denied)
        {
            hop.Count(null, null, ResponseFlags.UnauthorizedDenied, false);
            TcpLog.Refused(services.Log, hop.Listener, "-", $"RBAC: access denied{(denied.Policy is { } policy ? " by " + policy : "")} for {arrival.Peer?.Principal ?? "a peer without mTLS"}");
            return ResponseFlags.UnauthorizedDenied;
        }

        var route = table.Match(arrival.Local, arrival.Remote, arrival.ServerName);
        var cluster = route?.PickCluster(services.Options.Random);
        hop = hop with { Route = route?.Name ?? "-" };
        if (route is null || cluster is null)
        {
            var flag = route is null ? ResponseFlags.NoRouteFound : ResponseFlags.NoHealthyUpstream;
            hop.Count(null, null, flag, false);
            TcpLog.Refused(services.Log, hop.Listener, hop.Route, route is null ? "no route" : "no cluster");
            return flag;
        }

        var original = cluster.Config.LoadBalancer == LoadBalancerKind.Passthrough ? arrival.Original : null;
        return await ConnectAndRelayAsync(client, hop, cluster, original, prefix, established, stop);
    }

    /// <param name="original">For a passthrough cluster, where the client meant to connect (null: nowhere known).</param>
    private static async Task<ResponseFlags> ConnectAndRelayAsync(
        IUpstreamTransport client, TcpHop hop, ClusterState cluster, (string Host, int Port)? original, ReadOnlyMemory<byte> prefix,
        Func<ValueTask<bool>>? established, CancellationToken stop)
    {
        var services = hop.Services;
        var slots = cluster.ConnectionSlots;
        if (slots is not null && !slots.TryTake())
        {
            hop.Count(cluster, null, ResponseFlags.UpstreamOverflow, false);
            TcpLog.Refused(services.Log, hop.Listener, hop.Route, $"{cluster.Name}: tcp.maxConnections ({slots.Max}) reached");
            return ResponseFlags.UpstreamOverflow;
        }

        try
        {
            var endpoint = cluster.Config.LoadBalancer != LoadBalancerKind.Passthrough ? cluster.PickEndpoint()
                : original is { } to && cluster.PassthroughEndpoint(to.Host, to.Port) is var named && !PassthroughLoop.IsSelf(named, services.Snapshots.Current.Source) ? named
                : null;
            if (endpoint is null)
            {
                hop.Count(cluster, null, ResponseFlags.NoHealthyUpstream, false);
                TcpLog.Refused(services.Log, hop.Listener, hop.Route, $"{cluster.Name}: no healthy upstream");
                return ResponseFlags.NoHealthyUpstream;
            }

            endpoint.RequestStarted(); // LEAST_CONN counts connections here as LEAST_REQUEST counts requests
            try
            {
                return await RelayToAsync(client, hop, cluster, endpoint, prefix, established, stop);
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

    private static async Task<ResponseFlags> RelayToAsync(
        IUpstreamTransport client, TcpHop hop, ClusterState cluster, EndpointState endpoint, ReadOnlyMemory<byte> prefix, Func<ValueTask<bool>>? established, CancellationToken stop)
    {
        // One TLS client path for every mode (ClusterTls): SIMPLE and MUTUAL originate TLS; auto mTLS and ISTIO_MUTUAL speak
        // the mesh's mTLS as the listener's workload; the rest is plain TCP. A cluster that asks for TLS on a proxy
        // without a TLS client is refused, never served in cleartext.
        var services = hop.Services;
        var upstream = $"{endpoint.Address}:{endpoint.Port}";
        var mode = cluster.Config.Tls?.Mode;
        var connector = cluster.Tls is { } tls ? tls.ForRelay(endpoint, hop.Source, ServerHost(cluster, endpoint), cluster.Connector)
            : mode is null or ClusterTlsMode.Auto or ClusterTlsMode.Disable ? cluster.Connector
            : null;
        if (connector is null)
        {
            hop.Count(cluster, endpoint, ResponseFlags.UpstreamConnectionFailure, false);
            TcpLog.ConnectFailed(services.Log, hop.Listener, cluster.Name, upstream, $"{mode}: this proxy has no TLS client");
            return ResponseFlags.UpstreamConnectionFailure;
        }

        var pool = cluster.Config.ConnectionPool;
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        connectTimeout.CancelAfter(pool?.ConnectTimeout ?? TcpServices.DefaultConnectTimeout);
        EndPoint target = IPAddress.TryParse(endpoint.Address, out var ip) ? new IPEndPoint(ip, endpoint.Port) : new DnsEndPoint(endpoint.Address, endpoint.Port);
        var (transport, error) = await connector.ConnectAsync(target, connectTimeout.Token);
        if (transport is null)
        {
            cluster.Outlier?.Record(endpoint, AttemptOutcome.Failed(AttemptFailure.ConnectFailure));
            hop.Count(cluster, endpoint, ResponseFlags.UpstreamConnectionFailure, false);
            TcpLog.ConnectFailed(services.Log, hop.Listener, cluster.Name, upstream, error?.Message ?? "no transport");
            return ResponseFlags.UpstreamConnectionFailure;
        }

        using (transport)
        {
            cluster.Outlier?.Record(endpoint, AttemptOutcome.Response(200));
            if (established is not null && !await established())
            {
                hop.Count(cluster, endpoint, ResponseFlags.DownstreamConnectionTermination, false);
                return ResponseFlags.None; // the client left before its tunnel opened: nothing more to tell it
            }

            var series = hop.Series(cluster, endpoint, ResponseFlags.None, transport is TlsTransport { Server: not null });
            series?.Open();
            var limits = new TcpRelayLimits(pool?.IdleTimeout ?? TcpServices.DefaultIdleTimeout, pool?.MaxConnectionDuration);
            var result = await TcpRelay.RunAsync(client, transport, prefix, limits, series, services.Time, stop);
            series?.Close();
            TcpLog.Closed(services.Log, hop.Listener, hop.Route, cluster.Name, upstream, result.End, result.Received, result.Sent,
                (long)services.Time.GetElapsedTime(hop.Started).TotalMilliseconds);
        }

        return ResponseFlags.None;
    }

    /// <summary>
    /// The server name an originated TLS connection sends (and, without <c>subjectAltNames</c>, checks) when the rule names
    /// none: the host the connection is for, as Envoy's auto SNI does for HTTP (a passthrough endpoint's name, else the
    /// cluster's service host); a wildcard host names no server.
    /// </summary>
    private static string? ServerHost(ClusterState cluster, EndpointState endpoint)
    {
        var host = cluster.Config.LoadBalancer == LoadBalancerKind.Passthrough ? endpoint.Address : cluster.Config.Service?.Host;
        return host is null || host.StartsWith('*') || IPAddress.TryParse(host, out _) ? null : host;
    }
}

/// <summary>What a relayed connection brought with it: who and where from, where to, and which server name it asked for.</summary>
/// <param name="Peer">The client's mesh mTLS identity (an inbound relay); null for cleartext.</param>
/// <param name="Local">The address the client connected to (<c>destinationSubnets</c>).</param>
/// <param name="Remote">The client's address (<c>sourceSubnet</c>, AuthorizationPolicy's <c>ipBlocks</c>).</param>
/// <param name="ServerName">The TLS server name routes match (<c>sniHosts</c>): the ClientHello's, or a CONNECT target's host.</param>
/// <param name="Original">Where the client meant to go, for a passthrough cluster; null: nowhere known.</param>
internal readonly record struct TcpArrival(Security.PeerIdentity? Peer, IPAddress Local, IPAddress Remote, string? ServerName, (string Host, int Port)? Original);

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
                if (table.Authorize(peer, remote) is { Allowed: false } denied)
                {
                    hop.Count(null, null, ResponseFlags.UnauthorizedDenied, false);
                    TcpLog.Refused(services.Log, listener, "-", $"RBAC: access denied{(denied.Policy is { } policy ? " by " + policy : "")} for {peer?.Principal ?? "a peer without mTLS"}");
                    return;
                }

                var route = table.Match(local, remote, serverName);
                var cluster = route?.PickCluster(services.Options.Random);
                hop = hop with { Route = route?.Name ?? "-" };
                if (route is null || cluster is null)
                {
                    hop.Count(null, null, route is null ? ResponseFlags.NoRouteFound : ResponseFlags.NoHealthyUpstream, false);
                    TcpLog.Refused(services.Log, listener, hop.Route, route is null ? "no route" : "no cluster");
                    return;
                }

                var original = cluster.Config.LoadBalancer == LoadBalancerKind.Passthrough ? table.OriginalDestination(serverName) : null;
                await ConnectAndRelayAsync(downstream ?? new TcpTransport(client), hop, cluster, original, read.AsMemory(0, unread), stop);
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

    /// <param name="original">For a passthrough cluster, where the client meant to connect (null: nowhere known).</param>
    private static async Task ConnectAndRelayAsync(
        IUpstreamTransport client, TcpHop hop, ClusterState cluster, (string Host, int Port)? original, ReadOnlyMemory<byte> prefix, CancellationToken stop)
    {
        var services = hop.Services;
        var slots = cluster.ConnectionSlots;
        if (slots is not null && !slots.TryTake())
        {
            hop.Count(cluster, null, ResponseFlags.UpstreamOverflow, false);
            TcpLog.Refused(services.Log, hop.Listener, hop.Route, $"{cluster.Name}: tcp.maxConnections ({slots.Max}) reached");
            return;
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
                return;
            }

            endpoint.RequestStarted(); // LEAST_CONN counts connections here as LEAST_REQUEST counts requests
            try
            {
                await RelayToAsync(client, hop, cluster, endpoint, prefix, stop);
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

    private static async Task RelayToAsync(IUpstreamTransport client, TcpHop hop, ClusterState cluster, EndpointState endpoint, ReadOnlyMemory<byte> prefix, CancellationToken stop)
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
            return;
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
            return;
        }

        using (transport)
        {
            cluster.Outlier?.Record(endpoint, AttemptOutcome.Response(200));
            var series = hop.Series(cluster, endpoint, ResponseFlags.None, transport is TlsTransport { Server: not null });
            series?.Open();
            var limits = new TcpRelayLimits(pool?.IdleTimeout ?? TcpServices.DefaultIdleTimeout, pool?.MaxConnectionDuration);
            var result = await TcpRelay.RunAsync(client, transport, prefix, limits, series, services.Time, stop);
            series?.Close();
            TcpLog.Closed(services.Log, hop.Listener, hop.Route, cluster.Name, upstream, result.End, result.Received, result.Sent,
                (long)services.Time.GetElapsedTime(hop.Started).TotalMilliseconds);
        }
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

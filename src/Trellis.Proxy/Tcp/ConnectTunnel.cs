using System.Net;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Tcp;

/// <summary>What an HTTP CONNECT gets: the routes of its tunnel, or the status that refuses it (no tunnel).</summary>
/// <param name="Routes">Null when refused at once.</param>
/// <param name="Status">405 when the listener has no TCP destinations; else 200 (the routes decide).</param>
/// <param name="BlackHole">An unknown destination under <c>REGISTRY_ONLY</c>: its routes end at <c>BlackHoleCluster</c>, answered 502.</param>
internal readonly record struct ConnectDecision(TcpRouteTable? Routes, int Status, bool BlackHole);

/// <summary>
/// HTTP CONNECT on an outbound listener, as a forward proxy for a workload's <c>HTTPS_PROXY</c> (Envoy's CONNECT
/// termination: the tunnel's bytes go to a TCP upstream). Both HTTP/1.1 engines of the listener call it; the bytes are
/// relayed by the one TCP relay (<see cref="TcpConnection.RouteAndRelayAsync"/>), so a tunnel is routed, balanced,
/// authorized, counted and logged as a connection to the service port's reserved listener would be.
/// <list type="number">
/// <item>The target (<see cref="ConnectTarget"/>) is looked up among the listener's TCP destinations
/// (<see cref="TcpDestinationTable"/>): an IP literal by ServiceEntry <c>addresses</c>, then by name and port.</item>
/// <item>A known destination relays by its routes, its host standing for the TLS server name its routes match; an unknown
/// one by the outbound traffic policy: <c>ALLOW_ANY</c> to the target itself (<c>PassthroughCluster</c>),
/// <c>REGISTRY_ONLY</c> refused with 502, counted against <c>BlackHoleCluster</c> (as Istio's <c>block_all</c> route
/// answers HTTP).</item>
/// <item>As Envoy does, 200 is sent only once the upstream is connected; a refusal before that is a status with
/// <c>Connection: close</c>: 403 (RBAC), 404 (no route), 503 (no endpoint, overflow, connect failure).</item>
/// </list>
/// </summary>
internal static class ConnectTunnel
{
    /// <summary>
    /// Judges a parsed CONNECT head (<see cref="Http1.HeadParse.Connect"/>): content (400), a malformed target (400, with
    /// <paramref name="problem"/> saying why), then <see cref="Decide"/>. Both engines call this; neither judges itself.
    /// </summary>
    public static ConnectDecision Judge(Http1.RequestHead head, ReadOnlySpan<byte> buffer, TcpDestinationTable? destinations, out ConnectTarget target, out string problem)
    {
        if (head.ConnectHasContent)
        {
            (target, problem) = (default, "a CONNECT request has no content");
            return new ConnectDecision(null, 400, false);
        }

        if (!ConnectTarget.TryParse(head.Target(buffer), out target, out problem))
        {
            return new ConnectDecision(null, 400, false);
        }

        problem = "this listener relays no TCP";
        return Decide(destinations, target);
    }

    /// <summary>
    /// The proxy's answer to a CONNECT: 200 opens the tunnel (no body, no framing: RFC 9110 §9.3.6); any other status
    /// refuses it with a text body, the response flags, and <c>Connection: close</c>.
    /// </summary>
    public static byte[] Reply(int status, ResponseFlags flags, string? problem)
    {
        if (status == 200)
        {
            return Established.ToArray();
        }

        var body = problem ?? Reason(status, flags);
        var head = new System.Text.StringBuilder()
            .Append(System.Text.Encoding.ASCII.GetString(Http1.ResponseDate.StatusLine(status)))
            .Append("Content-Type: text/plain\r\nContent-Length: ").Append(body.Length).Append("\r\n");
        if (flags != ResponseFlags.None)
        {
            head.Append(ResponseFlagNames.Header).Append(": ").Append(flags.ToShortString()).Append("\r\n");
        }

        return System.Text.Encoding.ASCII.GetBytes(head.Append("Connection: close\r\n\r\n").Append(body).ToString());
    }

    private static ReadOnlySpan<byte> Established => "HTTP/1.1 200 Connection established\r\n\r\n"u8;

    public static ConnectDecision Decide(TcpDestinationTable? destinations, in ConnectTarget target)
    {
        if (destinations is null)
        {
            return new ConnectDecision(null, 405, false);
        }

        var known = (target.Address is { } address ? destinations.Find(address, target.Port) : null) ?? destinations.Find(target.Host, target.Port);
        return known is not null ? new ConnectDecision(known, 200, false) : new ConnectDecision(destinations.Otherwise, 200, destinations.RegistryOnly);
    }

    /// <summary>The status a refused tunnel is answered with, for the flag that refused it.</summary>
    public static int StatusFor(ResponseFlags flags, bool blackHole) =>
        blackHole ? 502
        : flags == ResponseFlags.UnauthorizedDenied ? 403
        : flags == ResponseFlags.NoRouteFound ? 404
        : 503;

    /// <summary>The body of a refusal, in Envoy's words where it has them.</summary>
    public static string Reason(int status, ResponseFlags flags) => status switch
    {
        502 => "outbound traffic policy REGISTRY_ONLY: the destination is not in the registry (BlackHoleCluster)",
        403 => "RBAC: access denied",
        404 => "no route for the CONNECT target",
        _ => flags == ResponseFlags.UpstreamConnectionFailure
            ? "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
            : "no healthy upstream",
    };

    /// <summary>
    /// Routes, connects and relays one tunnel. <paramref name="answer"/> writes the proxy's answer to the client: 200 once
    /// the upstream is connected (false: the client left), or the refusal.
    /// </summary>
    /// <param name="client">The client's connection after the CONNECT head.</param>
    /// <param name="prefix">Bytes the client sent after the head already read (relayed first).</param>
    public static async Task RunAsync(
        IUpstreamTransport client, TcpServices services, string listener, ConnectTarget target, ConnectDecision decision, IPAddress local, IPAddress remote,
        ReadOnlyMemory<byte> prefix, Func<int, ResponseFlags, ValueTask<bool>> answer, CancellationToken stop)
    {
        var routes = decision.Routes!;
        var hop = new TcpHop(listener, "-", routes.Identity, false, services, services.Telemetry.Listener(listener), services.Time.GetTimestamp());
        var arrival = new TcpArrival(null, local, remote, target.Address is null ? target.Host : null, (target.Host, target.Port));
        var flags = await TcpConnection.RouteAndRelayAsync(client, routes, hop, arrival, prefix, () => answer(200, ResponseFlags.None), stop);
        if (flags != ResponseFlags.None)
        {
            await answer(StatusFor(flags, decision.BlackHole), flags);
        }
    }
}

using System.Globalization;
using System.Text;

namespace Trellis.Agent.Capture;

/// <summary>
/// The nftables rules of <c>trellis agent --capture</c>, Istio's init container (istio-iptables) written for nftables
/// and for a node proxy that shares its network namespace with the workloads. Pure functions of the settings: the text
/// that <c>nft -f -</c> applies, each script one atomic transaction.
/// <para>
/// Outbound (chain <c>output</c>, NAT before routing is redone): every TCP connection a process of the namespace opens
/// is redirected to the capture listener, except (in order) the connections of the agent and its node proxy, which
/// carry <see cref="Trellis.Proxy.Capture.OwnTraffic.Mark"/> (Istio's <c>--uid-owner 1337</c> RETURN), those to loopback
/// (a workload's own ports and the HTTP_PROXY listeners; Istio's <c>-d 127.0.0.1/32</c> RETURN), and those to this
/// node's own addresses (the inbound listeners, which are the mesh already).
/// </para>
/// <para>
/// Inbound (chain <c>prerouting</c>): a connection from another host to a workload's own port is redirected to that
/// instance's inbound listener, so it passes the inbound side (authorization, mTLS, telemetry) as Istio's 15006 does;
/// the map <c>inbound</c> (workload port to inbound listener port) follows the instances (<see cref="Inbound"/>).
/// </para>
/// </summary>
public static class CaptureRules
{
    /// <summary>The table of every rule, in the <c>ip</c> family; deleting it removes them all.</summary>
    public const string Table = "trellis_capture";

    /// <summary>
    /// The whole table, replacing any left by an agent that was killed: an empty table is declared first so that the
    /// delete that follows cannot fail, then it is made anew, all in one transaction.
    /// </summary>
    public static string Install(int capturePort, int mark, IReadOnlyDictionary<int, int> inbound)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capturePort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capturePort, 65535);
        var port = capturePort.ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder()
            .Append("table ip ").Append(Table).Append(" {}\n")
            .Append("delete table ip ").Append(Table).Append('\n')
            .Append("table ip ").Append(Table).Append(" {\n")
            .Append("  map inbound {\n    type inet_service : inet_service\n  }\n")
            .Append("  chain output {\n    type nat hook output priority -100; policy accept;\n")
            .Append("    meta mark 0x").Append(mark.ToString("x", CultureInfo.InvariantCulture)).Append(" return\n")
            .Append("    ip daddr 127.0.0.0/8 return\n")
            .Append("    fib daddr type local return\n")
            .Append("    meta l4proto tcp redirect to :").Append(port).Append('\n')
            .Append("  }\n")
            .Append("  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n")
            .Append("    meta l4proto tcp redirect to : tcp dport map @inbound\n")
            .Append("  }\n")
            .Append("}\n");
        return text.Append(Inbound(inbound)).ToString();
    }

    /// <summary>The inbound map's new content: the workload ports of the node's instances and their inbound listeners' ports.</summary>
    public static string Inbound(IReadOnlyDictionary<int, int> inbound)
    {
        var text = new StringBuilder("flush map ip ").Append(Table).Append(" inbound\n");
        if (inbound.Count > 0)
        {
            text.Append("add element ip ").Append(Table).Append(" inbound { ")
                .AppendJoin(", ", inbound.OrderBy(p => p.Key).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} : {p.Value}")))
                .Append(" }\n");
        }

        return text.ToString();
    }

    /// <summary>Removes every rule (the agent's graceful stop).</summary>
    public static string Remove() => $"table ip {Table} {{}}\ndelete table ip {Table}\n";
}

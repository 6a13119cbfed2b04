using Trellis.Api.Diagnostics;
using Trellis.Api.Networking;

namespace Trellis.Api;

/// <summary>
/// Connection-pool settings the proxy honours only on HTTP/1.1 upstreams, which it pools itself: to an HTTP/2 port
/// (grpc, http2, h2c) connections are pooled by SocketsHttpHandler with proxy-wide settings, so these fields are
/// accepted there but not enforced, and <c>apply</c>/<c>analyze</c> say so (TRL0200) at the field that sets them.
/// The thresholds (<c>maxConnections</c>, <c>http1MaxPendingRequests</c>, <c>http2MaxRequests</c>, <c>maxRetries</c>)
/// are enforced by the pipeline for every protocol and are not reported.
/// </summary>
internal static class Http2PoolCheck
{
    public static void Check(Resource resource, DestinationRuleSpec spec, MeshIndex index, List<Diagnostic> findings, string label)
    {
        var ports = index.PortsOf(spec.Host, HostNames.Qualify(spec.Host, Analyzer.Namespace(resource)));
        if (ports is null || !ports.Any(p => p.Protocol == PortProtocol.Http2))
        {
            return;
        }

        Policy(spec.TrafficPolicy, "spec.trafficPolicy", ports, findings, label);
        for (var i = 0; i < spec.Subsets.Count; i++)
        {
            Policy(spec.Subsets[i].TrafficPolicy, $"spec.subsets[{i}].trafficPolicy", ports, findings, label);
        }
    }

    private static void Policy(TrafficPolicy? policy, string path, IReadOnlyList<(int Number, PortProtocol Protocol)> ports, List<Diagnostic> findings, string label)
    {
        if (policy is null)
        {
            return;
        }

        // Destination-wide settings reach every port (Check only calls this when one is HTTP/2); a port-level entry only its own.
        Pool(policy.ConnectionPool, $"{path}.connectionPool", ports.First(p => p.Protocol == PortProtocol.Http2).Number, findings, label);

        for (var i = 0; i < policy.PortLevelSettings.Count; i++)
        {
            var number = policy.PortLevelSettings[i].Port?.Number;
            if (ports.Any(p => p.Number == number && p.Protocol == PortProtocol.Http2))
            {
                Pool(policy.PortLevelSettings[i].ConnectionPool, $"{path}.portLevelSettings[{i}].connectionPool", number!.Value, findings, label);
            }
        }
    }

    private static void Pool(ConnectionPoolSettings? pool, string path, int port, List<Diagnostic> findings, string label)
    {
        var set = new List<string>();
        if (pool?.Tcp is { } tcp)
        {
            Add(tcp.ConnectTimeout is not null, "tcp.connectTimeout");
            Add(tcp.TcpKeepalive is not null, "tcp.tcpKeepalive");
            Add(tcp.MaxConnectionDuration is not null, "tcp.maxConnectionDuration");
            Add(tcp.IdleTimeout is not null, "tcp.idleTimeout");
        }

        if (pool?.Http is { } http)
        {
            Add(http.IdleTimeout is not null, "http.idleTimeout");
            Add(http.MaxRequestsPerConnection is not null, "http.maxRequestsPerConnection");
        }

        foreach (var field in set)
        {
            findings.Add(new Diagnostic(
                DiagnosticCodes.AcceptedNotEnforced,
                Severity.Warning,
                $"accepted, not enforced: {field} applies to HTTP/1.1 upstreams only; port {port} is HTTP/2 to the upstream, "
                + "whose connections keep the proxy-wide connect timeout, idle timeout and 5 minute lifetime",
                $"{path}.{field}",
                Resource: label));
        }

        void Add(bool present, string field)
        {
            if (present)
            {
                set.Add(field);
            }
        }
    }
}

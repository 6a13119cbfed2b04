using Microsoft.Extensions.Logging;
using Trellis.Agent.Replicas;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;
using Trellis.Proxy;

namespace Trellis.Agent.Identity;

/// <summary>
/// A gateway proxy's own workload certificate (Istio's ingress gateway runs as a workload with a service account). The
/// control plane names the identity on the gateway's listeners; this joins the CA with the join token, as an agent does,
/// and keeps a certificate for each identity the current snapshot names, so the gateway speaks mTLS to workloads (auto
/// mTLS) and a STRICT workload accepts it. Without a join token the gateway has no certificate and speaks cleartext.
/// </summary>
public sealed class GatewayCertificates : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly CertificateManager _manager;

    private GatewayCertificates(HttpClient http, CertificateManager manager)
    {
        _http = http;
        _manager = manager;
    }

    /// <summary>Joins the CA of <paramref name="servers"/> as node <see cref="NodeName"/> of <paramref name="gateway"/> and starts renewing.</summary>
    public static GatewayCertificates Start(IReadOnlyList<Uri> servers, string gateway, string joinToken, ProxyServer proxy, ILogger log, Trellis.Api.Access.ControlPlaneTrust? trust = null)
    {
        var http = new HttpClient(ReplicaFailoverHandler.Create(servers, trust)) { BaseAddress = servers[0], Timeout = Timeout.InfiniteTimeSpan };
        var manager = new CertificateManager(http, NodeName(gateway), joinToken, proxy.Identities, TimeProvider.System, log) { ControlPlaneTrust = trust };
        manager.Start();
        return new GatewayCertificates(http, manager);
    }

    /// <summary>After a snapshot is accepted: certificates for the identities its listeners speak as, and no others.</summary>
    public void Follow(ProxySnapshot snapshot) => _manager.Want(Accounts(snapshot));

    /// <summary>The workload identities (namespace, service account) that <paramref name="snapshot"/>'s listeners present.</summary>
    public static IEnumerable<(string Namespace, string ServiceAccount)> Accounts(ProxySnapshot snapshot) =>
        snapshot.Listeners
            .Select(l => SpiffeId.TryParse(l.Identity, out var id) && id.TryGetWorkload(out var ns, out var account) ? (ns, account) : default)
            .Where(a => a.ns is not null)
            .Select(a => (a.ns!, a.account!))
            .Distinct();

    /// <summary>The gateway's node name at the CA (<see cref="CaProtocol.GatewayNode"/>).</summary>
    public static string NodeName(string gateway) => CaProtocol.GatewayNode(gateway);

    public async ValueTask DisposeAsync()
    {
        await _manager.DisposeAsync();
        _http.Dispose();
    }
}

using System.Net;

namespace Trellis.ControlPlane;

public sealed record ControlPlaneOptions
{
    /// <summary>Where the store keeps its log. Required.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>
    /// The HTTP API (kubectl-like paths, apply, registry). Every request but health, the CA's join and bundle, and
    /// <c>/metrics</c> needs a token or a node identity (docs/security.md). Loopback by default all the same: without
    /// <see cref="Tls"/> the API is cleartext HTTP, so a token crossing a network can be read on the way.
    /// </summary>
    public IPEndPoint ApiEndpoint { get; init; } = new(IPAddress.Loopback, 15000);

    /// <summary>The push stream to proxies: HTTP/2 cleartext with prior knowledge (Kestrel cannot offer h2c beside HTTP/1.1 on one port).</summary>
    public IPEndPoint PushEndpoint { get; init; } = new(IPAddress.Loopback, 15010);

    /// <summary>
    /// Null: the embedded file store in <see cref="DataDirectory"/>, one replica. <c>etcd://host:2379[,host:2379...]</c>:
    /// resources, the registry and the leader key in etcd, shared by every replica given the same URL.
    /// </summary>
    public string? Store { get; init; }

    /// <summary>This replica's name in leader election (<c>/debug/leader</c>); default host/pid.</summary>
    public string? ReplicaName { get; init; }

    /// <summary>
    /// The API URL other replicas use to reach this one (a follower forwards the autoscaler's reports to
    /// the leader). Default: the API address when it is not a wildcard.
    /// </summary>
    public Uri? AdvertiseUrl { get; init; }

    /// <summary>With etcd: how long a node stays registered after its agent's last heartbeat (its lease's TTL).</summary>
    public TimeSpan NodeTtl { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>With etcd: the leader lease's TTL; a dead leader is replaced within about this long.</summary>
    public TimeSpan LeaderTtl { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How often Knative objects are reconciled and revisions autoscaled (Knative ticks every 2 s).</summary>
    public TimeSpan ServingTick { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The loopback range Gateway API Gateways get their addresses from (see <see cref="GatewayApi.GatewayAddressPool"/>).</summary>
    public GatewayApi.GatewayAddressPool GatewayAddresses { get; init; } = GatewayApi.GatewayAddressPool.Parse(GatewayApi.GatewayAddressPool.Default).Pool!;

    /// <summary>The broker ingress and event delivery (Knative eventing); null leaves eventing off.</summary>
    public Eventing.EventingOptions? Eventing { get; init; } = new();

    /// <summary>
    /// The operator's CA in Istio's plug-in layout (<c>ca-cert.pem</c>, <c>ca-key.pem</c>, <c>root-cert.pem</c>,
    /// <c>cert-chain.pem</c>); null: a self-signed root made on first start in <c>&lt;data dir&gt;/ca</c>. Replicas
    /// sharing etcd must share a plugged-in CA (each would otherwise make its own root).
    /// </summary>
    public string? CaDirectory { get; init; }

    /// <summary>The agents' join token; null: made on first start in <c>&lt;data dir&gt;/ca/join-token</c>.</summary>
    public string? JoinToken { get; init; }

    /// <summary>
    /// kube-apiserver's <c>--token-auth-file</c>: lines <c>token,name,role</c> (token also as <c>sha256:&lt;hex&gt;</c>)
    /// accepted beside the tokens made through the API; replicas sharing etcd are given the same file.
    /// </summary>
    public string? TokenAuthFile { get; init; }

    /// <summary>
    /// The token store, already opened by the host role (<see cref="Auth.TokenStore.Open"/> on <c>&lt;data dir&gt;/auth</c>):
    /// <c>trellis up</c> and <c>controlplane</c> write the admin context into the CLI config before the API listens, so
    /// a client that sees the API answer finds its token. Null: opened here.
    /// </summary>
    public Auth.TokenStore? Tokens { get; init; }

    /// <summary>
    /// <c>--api-tls</c>: the API and the push stream serve TLS with a certificate from the mesh CA (<see cref="ApiServer.ApiTls"/>);
    /// clients verify it with the CA's roots (the CLI context's <c>certificate-authority</c>, an agent's <c>--ca-file</c>
    /// or <c>--ca-cert-hash</c>). Off: cleartext HTTP, for loopback.
    /// </summary>
    public bool Tls { get; init; }

    /// <summary>Extra names for the API's certificate (k3s's <c>--tls-san</c>: a DNS alias, a load balancer's address).</summary>
    public IReadOnlyList<string> TlsNames { get; init; } = [];

    /// <summary>Trust domain, certificate lifetime, renewal point and key type of workload certificates.</summary>
    public Trellis.Api.Identity.CertificatePolicy Certificates { get; init; } = Trellis.Api.Identity.CertificatePolicy.Default;
}

namespace Trellis.Api.Snapshots;

/// <summary>
/// What an inbound listener accepts from other proxies, resolved by the control plane from the PeerAuthentications
/// that select its workload (Istio's mesh → namespace → workload → port inheritance; UNSET resolved away).
/// </summary>
public enum PeerAuthenticationMode
{
    /// <summary>Cleartext only (<c>DISABLE</c>): the listener never looks for TLS.</summary>
    Disable,

    /// <summary>mTLS and cleartext on one port, told apart by the connection's first bytes (<c>PERMISSIVE</c>, Istio's default).</summary>
    Permissive,

    /// <summary>mTLS only (<c>STRICT</c>): a cleartext connection is closed.</summary>
    Strict,
}

/// <summary>
/// How a cluster's connections are secured (DestinationRule <c>trafficPolicy.tls.mode</c>). <see cref="Auto"/> is Istio's
/// auto mTLS: mTLS to an endpoint whose proxy accepts it (<see cref="EndpointConfig.Mtls"/>), cleartext otherwise.
/// </summary>
public enum ClusterTlsMode
{
    Auto,

    /// <summary><c>ISTIO_MUTUAL</c>: always mTLS with the workload certificate, whatever the endpoint says.</summary>
    IstioMutual,

    /// <summary><c>DISABLE</c>: always cleartext.</summary>
    Disable,
}

/// <summary>
/// A cluster's TLS: the mode and, for Istio's secure naming, the SPIFFE IDs a server of this cluster may present (the
/// service accounts of the workloads backing the destination service). A server presenting any other identity is refused.
/// </summary>
public sealed record ClusterTlsConfig(ClusterTlsMode Mode, IReadOnlyList<string> PeerIdentities);

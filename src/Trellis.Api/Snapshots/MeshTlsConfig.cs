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

    /// <summary><c>SIMPLE</c>: TLS originated to the server, checked by <see cref="ClusterTlsConfig.Origination"/>.</summary>
    Simple,

    /// <summary><c>MUTUAL</c>: as <see cref="Simple"/>, presenting the user's client certificate.</summary>
    Mutual,
}

/// <summary>
/// A cluster's TLS: the mode and, for Istio's secure naming, the SPIFFE IDs a server of this cluster may present (the
/// service accounts of the workloads backing the destination service, or the rule's <c>subjectAltNames</c>). A server
/// presenting any other identity is refused.
/// </summary>
/// <param name="Sni">ISTIO_MUTUAL: the server name sent (DestinationRule <c>tls.sni</c>); null: none.</param>
/// <param name="Origination">SIMPLE and MUTUAL: the user's TLS settings; null for the mesh's modes.</param>
public sealed record ClusterTlsConfig(ClusterTlsMode Mode, IReadOnlyList<string> PeerIdentities, string? Sni = null, OriginationTlsConfig? Origination = null);

/// <summary>
/// TLS the proxy originates to servers outside the mesh's identities (DestinationRule <c>tls.mode</c> SIMPLE or MUTUAL,
/// Istio's egress TLS origination), with Istio's checks: the server's chain against <see cref="CaCertificatesPem"/> (or
/// the file <see cref="CaCertificatesFile"/> on the proxy's host; neither: the system's roots), its names against
/// <see cref="SubjectAltNames"/>, or, with neither those nor <see cref="Sni"/> written, against the request's host
/// (Envoy's auto SAN validation); <see cref="Sni"/>, else the request's host (auto SNI), is the server name sent.
/// Certificates travel as PEM in the snapshot (as SDS sends them), so a proxy on another host needs no copy of the Secret.
/// </summary>
/// <param name="InsecureSkipVerify">Neither the chain nor the names are checked.</param>
/// <param name="Error">Why the credentials could not be resolved (a Secret deleted after apply): every connection of the
/// cluster is refused with it, never sent without the TLS the rule asks for.</param>
public sealed record OriginationTlsConfig(
    string? Sni = null,
    IReadOnlyList<string>? SubjectAltNames = null,
    string? CaCertificatesPem = null,
    string? CaCertificatesFile = null,
    string? ClientCertificatePem = null,
    string? PrivateKeyPem = null,
    string? ClientCertificateFile = null,
    string? PrivateKeyFile = null,
    bool InsecureSkipVerify = false,
    string? Error = null);

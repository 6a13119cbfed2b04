namespace Trellis.Proxy.Security;

/// <summary>
/// The verified identity of a peer proxy: the SPIFFE ID of the certificate it presented in an mTLS handshake (chained to
/// the trust bundle, in our trust domain). One per connection, made once at the handshake, so requests read it for free.
/// </summary>
internal sealed class PeerIdentity(Trellis.Api.Identity.SpiffeId id)
{
    /// <summary><c>spiffe://cluster.local/ns/X/sa/Y</c>, as telemetry's <c>source_principal</c> writes it.</summary>
    public string SpiffeId { get; } = id.ToString();

    /// <summary><c>cluster.local/ns/X/sa/Y</c>, as AuthorizationPolicy <c>principals</c> name it.</summary>
    public string Principal { get; } = id.Principal;
}

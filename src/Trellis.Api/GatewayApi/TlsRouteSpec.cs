namespace Trellis.Api.GatewayApi;

/// <summary>
/// Gateway API <c>TLSRoute</c> (<c>gateway.networking.k8s.io/v1alpha2</c>, experimental channel): connections to a
/// <c>TLS</c> listener with <c>tls.mode: Passthrough</c> whose ClientHello names one of <see cref="Hostnames"/> go, still
/// encrypted, to the backends of its rule by weight. docs/tcp.md.
/// </summary>
public sealed record TlsRouteSpec
{
    public IReadOnlyList<ParentReference> ParentRefs { get; init; } = [];

    /// <summary>Server names (SNI) the route takes, exact or <c>*.</c> wildcards; none: every name its listener takes.</summary>
    public IReadOnlyList<string> Hostnames { get; init; } = [];

    /// <summary>A TLSRoute rule has the fields of a TCPRoute rule: a name and backendRefs.</summary>
    public IReadOnlyList<TcpRouteRule> Rules { get; init; } = [];
}

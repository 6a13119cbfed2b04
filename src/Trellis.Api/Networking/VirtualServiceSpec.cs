namespace Trellis.Api.Networking;

/// <summary>
/// Istio <c>VirtualService</c> (networking.istio.io): routing rules for traffic addressed to <see cref="Hosts"/>.
/// Field names and meaning follow istio/api <c>networking/v1alpha3/virtual_service.proto</c>.
/// </summary>
public sealed record VirtualServiceSpec
{
    public required IReadOnlyList<string> Hosts { get; init; }

    /// <summary><c>mesh</c> (the default when empty) or <c>[namespace/]gateway</c> names.</summary>
    public IReadOnlyList<string> Gateways { get; init; } = [];

    public IReadOnlyList<HttpRoute> Http { get; init; } = [];

    public IReadOnlyList<TlsRoute> Tls { get; init; } = [];

    public IReadOnlyList<TcpRoute> Tcp { get; init; } = [];

    public IReadOnlyList<string> ExportTo { get; init; } = [];
}

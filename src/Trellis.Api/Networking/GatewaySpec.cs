using System.Text.Json.Serialization;

namespace Trellis.Api.Networking;

/// <summary>
/// Istio <c>Gateway</c>: ports a gateway workload (chosen by <see cref="Selector"/>) listens on and the hosts it
/// accepts there. Routing is attached by VirtualServices that name the gateway. See istio/api <c>gateway.proto</c>.
/// </summary>
public sealed record GatewaySpec
{
    public required IReadOnlyList<Server> Servers { get; init; }

    public IReadOnlyDictionary<string, string> Selector { get; init; } = new Dictionary<string, string>();
}

public sealed record Server
{
    public required Port Port { get; init; }

    public string? Bind { get; init; }

    /// <summary><c>[namespace/]host</c>, where host may start with <c>*</c>.</summary>
    public required IReadOnlyList<string> Hosts { get; init; }

    public ServerTlsSettings? Tls { get; init; }

    public string? DefaultEndpoint { get; init; }

    public string? Name { get; init; }
}

/// <summary>A port a gateway or service listens on; also Istio's <c>ServicePort</c> in ServiceEntry.</summary>
public sealed record Port
{
    public required int Number { get; init; }

    /// <summary>HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP or TLS (case-insensitive upstream).</summary>
    public string? Protocol { get; init; }

    public string? Name { get; init; }

    public int? TargetPort { get; init; }
}

public sealed record ServerTlsSettings
{
    public bool? HttpsRedirect { get; init; }

    public ServerTlsMode? Mode { get; init; }

    public string? ServerCertificate { get; init; }

    public string? PrivateKey { get; init; }

    public string? CaCertificates { get; init; }

    public string? CaCrl { get; init; }

    public string? CredentialName { get; init; }

    public IReadOnlyList<string> CredentialNames { get; init; } = [];

    public IReadOnlyList<string> SubjectAltNames { get; init; } = [];

    public IReadOnlyList<string> VerifyCertificateSpki { get; init; } = [];

    public IReadOnlyList<string> VerifyCertificateHash { get; init; } = [];

    public string? MinProtocolVersion { get; init; }

    public string? MaxProtocolVersion { get; init; }

    public IReadOnlyList<string> CipherSuites { get; init; } = [];
}

public enum ServerTlsMode
{
    [JsonStringEnumMemberName("PASSTHROUGH")]
    Passthrough,
    [JsonStringEnumMemberName("SIMPLE")]
    Simple,
    [JsonStringEnumMemberName("MUTUAL")]
    Mutual,
    [JsonStringEnumMemberName("AUTO_PASSTHROUGH")]
    AutoPassthrough,
    [JsonStringEnumMemberName("ISTIO_MUTUAL")]
    IstioMutual,
    [JsonStringEnumMemberName("OPTIONAL_MUTUAL")]
    OptionalMutual,
}

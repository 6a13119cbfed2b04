using System.Text.Json.Serialization;

namespace Trellis.Api.Networking;

/// <summary>TLS the proxy originates towards the destination; <c>ISTIO_MUTUAL</c> uses mesh certificates.</summary>
public sealed record ClientTlsSettings
{
    public ClientTlsMode? Mode { get; init; }

    public string? ClientCertificate { get; init; }

    public string? PrivateKey { get; init; }

    public string? CaCertificates { get; init; }

    public string? CredentialName { get; init; }

    public IReadOnlyList<string> SubjectAltNames { get; init; } = [];

    public string? Sni { get; init; }

    public bool? InsecureSkipVerify { get; init; }

    public string? CaCrl { get; init; }
}

public enum ClientTlsMode
{
    [JsonStringEnumMemberName("DISABLE")]
    Disable,
    [JsonStringEnumMemberName("SIMPLE")]
    Simple,
    [JsonStringEnumMemberName("MUTUAL")]
    Mutual,
    [JsonStringEnumMemberName("ISTIO_MUTUAL")]
    IstioMutual,
}

using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// DestinationRule <c>tls</c> with mode SIMPLE or MUTUAL → the cluster's TLS origination, as pilot builds an upstream
/// TLS context (cluster_tls.go): the rule's <c>sni</c>, <c>subjectAltNames</c> and <c>insecureSkipVerify</c> as written;
/// <c>caCertificates</c>, <c>clientCertificate</c> and <c>privateKey</c> as file paths the proxy reads on its host; a
/// <c>credentialName</c> resolved here from the Secret in the rule's namespace (<see cref="ClientCredentials"/>) and sent
/// as PEM. Istio reads that Secret from the namespace of the proxy that uses it; Trellis reads the rule's, where apply
/// checks it too (docs/egress.md).
/// </summary>
internal static class TlsOrigination
{
    /// <summary>The cluster TLS for <paramref name="tls"/>, or null when its mode is not SIMPLE or MUTUAL.</summary>
    public static ClusterTlsConfig? For(ClientTlsSettings? tls, string ruleNamespace, MeshIndex index)
    {
        if (tls?.Mode is not (ClientTlsMode.Simple or ClientTlsMode.Mutual) || tls is null)
        {
            return null;
        }

        var mutual = tls.Mode == ClientTlsMode.Mutual;
        var config = new OriginationTlsConfig(
            Sni: string.IsNullOrEmpty(tls.Sni) ? null : tls.Sni,
            SubjectAltNames: tls.SubjectAltNames.Count > 0 ? tls.SubjectAltNames : null,
            CaCertificatesFile: NonEmpty(tls.CaCertificates),
            ClientCertificateFile: mutual ? NonEmpty(tls.ClientCertificate) : null,
            PrivateKeyFile: mutual ? NonEmpty(tls.PrivateKey) : null,
            InsecureSkipVerify: tls.InsecureSkipVerify == true);
        if (NonEmpty(tls.CredentialName) is { } name)
        {
            var (credential, error) = ClientCredentials.Resolve(n => index.Secrets.GetValueOrDefault((ruleNamespace, n)), ruleNamespace, name, mutual);
            config = credential is null
                ? config with { Error = error }
                : config with { CaCertificatesPem = credential.CaCertificates, ClientCertificatePem = credential.Certificate, PrivateKeyPem = credential.PrivateKey };
        }

        return new ClusterTlsConfig(mutual ? ClusterTlsMode.Mutual : ClusterTlsMode.Simple, [], Origination: config);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

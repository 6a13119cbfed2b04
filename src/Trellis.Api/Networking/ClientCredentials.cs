using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Workloads;

namespace Trellis.Api.Networking;

/// <summary>The PEM a DestinationRule's <c>credentialName</c> resolves to: the CA that checks servers, and MUTUAL's client certificate and key.</summary>
public sealed record ClientCredential(string? CaCertificates, string? Certificate, string? PrivateKey);

/// <summary>
/// How a DestinationRule's <c>tls.credentialName</c> reads its Secret, as Istio documents it: a <c>kubernetes.io/tls</c>
/// layout (<c>tls.crt</c>, <c>tls.key</c>, <c>ca.crt</c>) or a generic one (<c>cert</c>, <c>key</c>, <c>cacert</c>); the CA
/// may also come from a Secret named <c>&lt;name&gt;-cacert</c>. SIMPLE needs a CA from it; MUTUAL a certificate and key.
/// Every PEM must parse. The one rule, used at apply (an error names what is missing) and by the compiler (the cluster
/// refuses its connections with the same words when a Secret changed after apply).
/// </summary>
public static class ClientCredentials
{
    /// <param name="secrets">The Secret of a name in <paramref name="ns"/>, or null.</param>
    public static (ClientCredential? Credential, string? Error) Resolve(Func<string, SecretData?> secrets, string ns, string name, bool mutual)
    {
        if (Read(secrets, name) is not { } read)
        {
            return (null, $"Secret {ns}/{name} (credentialName) not found");
        }

        var (certificate, key, ca) = read;

        if (mutual && (certificate is null || key is null))
        {
            return (null, $"Secret {ns}/{name} (credentialName) has no client certificate and key: MUTUAL needs tls.crt and tls.key (or cert and key)");
        }

        if (!mutual && ca is null)
        {
            return (null, $"Secret {ns}/{name} (credentialName) has no CA certificate: SIMPLE reads ca.crt (or cacert, or a Secret {name}-cacert)");
        }

        if (ca is not null && CertificatesProblem(ca) is { } caProblem)
        {
            return (null, $"Secret {ns}/{name} (credentialName): the CA certificate {caProblem}");
        }

        if (mutual && KeyPairProblem(certificate!, key!) is { } pairProblem)
        {
            return (null, $"Secret {ns}/{name} (credentialName): the client certificate {pairProblem}");
        }

        return (new ClientCredential(ca, mutual ? certificate : null, mutual ? key : null), null);
    }

    /// <summary>
    /// The PEM a <c>credentialName</c> Secret holds, in either layout: certificate, key and CA (each null when absent); null
    /// when the Secret does not exist. The Gateway's servers read it the same way (their CA verifies clients).
    /// </summary>
    public static (string? Certificate, string? Key, string? Ca)? Read(Func<string, SecretData?> secrets, string name)
    {
        if (secrets(name) is not { } secret)
        {
            return null;
        }

        var ca = secret.Get("ca.crt") ?? secret.Get("cacert");
        if (ca is null && secrets(name + "-cacert") is { } separate)
        {
            ca = separate.Get("ca.crt") ?? separate.Get("cacert");
        }

        return (secret.Get("tls.crt") ?? secret.Get("cert"), secret.Get("tls.key") ?? secret.Get("key"), ca);
    }

    /// <summary>Null when <paramref name="pem"/> holds at least one certificate and nothing unreadable, else what is wrong.</summary>
    public static string? CertificatesProblem(string pem)
    {
        try
        {
            var collection = new X509Certificate2Collection();
            collection.ImportFromPem(pem);
            return collection.Count == 0 ? "is not PEM: no CERTIFICATE block" : null;
        }
        catch (CryptographicException ex)
        {
            return $"is not a valid PEM certificate: {ex.Message}";
        }
    }

    /// <summary>Null when the certificate and key parse and belong together, else what is wrong.</summary>
    public static string? KeyPairProblem(string certificatePem, string keyPem)
    {
        try
        {
            using var pair = X509Certificate2.CreateFromPem(certificatePem, keyPem);
            return null;
        }
        catch (CryptographicException ex)
        {
            return $"and key are not a valid PEM pair: {ex.Message}";
        }
        catch (ArgumentException ex)
        {
            return $"and key are not a valid PEM pair: {ex.Message}";
        }
    }
}

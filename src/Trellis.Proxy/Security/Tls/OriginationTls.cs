using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Security.Tls;

/// <summary>
/// One DestinationRule's TLS origination settings (SIMPLE or MUTUAL), loaded once: the CA certificates that must sign the
/// server's chain (from the snapshot's PEM, or the file a rule names on this proxy's host; neither: the system's roots),
/// the client certificate of MUTUAL, and the names to check. A setting that cannot be loaded leaves
/// <see cref="Problem"/>: every connection is then refused with it (Envoy rejects such a cluster), never sent without the
/// TLS the rule asks for.
/// </summary>
internal sealed class OriginationTls
{
    private readonly OriginationTlsConfig _config;
    private readonly X509Certificate2Collection? _roots;
    private readonly SslStreamCertificateContext? _client;

    public OriginationTls(OriginationTlsConfig config, bool mutual, MeshTls environment)
    {
        _config = config;
        Environment = environment;
        try
        {
            Problem = config.Error ?? Load(config, mutual, out _roots, out _client);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            Problem = ex.Message;
        }
    }

    /// <summary>Why no connection can be made with these settings; null when they loaded.</summary>
    public string? Problem { get; }

    /// <summary>The clock and log the handshakes use (the proxy's, shared with mTLS).</summary>
    public MeshTls Environment { get; }

    /// <summary>
    /// The server name a connection for a request to <paramref name="authority"/> sends: the rule's <c>sni</c>, else the
    /// request's host without its port (Envoy's auto SNI); null when neither is known.
    /// </summary>
    public string? ServerName(string? authority) => _config.Sni ?? HostOf(authority);

    /// <summary>The names the server's certificate must carry: the rule's <c>subjectAltNames</c>, else (auto SAN validation, only without an explicit <c>sni</c>) the server name.</summary>
    public IReadOnlyList<string> ExpectedNames(string? serverName) =>
        _config.SubjectAltNames is { Count: > 0 } names ? names
        : _config.Sni is null && serverName is not null ? [serverName]
        : [];

    /// <summary>The options of one handshake sending <paramref name="serverName"/> (and <paramref name="alpn"/>, unless default); null when <see cref="Problem"/> is set.</summary>
    public SslClientAuthenticationOptions? Options(string? serverName, SslApplicationProtocol alpn, PeerSlot slot)
    {
        if (Problem is not null)
        {
            return null;
        }

        var expected = ExpectedNames(serverName);
        var time = Environment.Time;
        return new SslClientAuthenticationOptions
        {
            // An IP address is never sent as a server name (RFC 6066 §3); the TLS stack leaves it out.
            TargetHost = serverName ?? string.Empty,
            ClientCertificateContext = _client,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ApplicationProtocols = alpn == default ? null : [alpn], // none for relayed TCP: the bytes are no HTTP
            AllowTlsResume = true,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                slot.Verdict = Verify(certificate, chain, expected, time.GetUtcNow());
                return slot.Verdict.Error is null;
            },
        };
    }

    /// <summary>The server check of Istio's SIMPLE/MUTUAL: its chain, then its names; nothing with <c>insecureSkipVerify</c>.</summary>
    public PeerVerdict Verify(X509Certificate? leaf, X509Chain? presented, IReadOnlyList<string> expected, DateTimeOffset now)
    {
        if (_config.InsecureSkipVerify)
        {
            return default;
        }

        if (leaf is null)
        {
            return PeerVerdict.Refused("the server presented no certificate");
        }

        var certificate = leaf as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(leaf.GetRawCertData());
        var problem = Trellis.Api.Identity.MeshCertificates.CheckChain(certificate, presented, _roots, now, client: false) ?? ServerNames.Check(certificate, expected);
        return problem is null ? default : PeerVerdict.Refused(problem);
    }

    private static string? Load(OriginationTlsConfig config, bool mutual, out X509Certificate2Collection? roots, out SslStreamCertificateContext? client)
    {
        roots = null;
        client = null;
        var caPem = config.CaCertificatesPem ?? (config.CaCertificatesFile is { } caFile ? File.ReadAllText(caFile) : null);
        if (caPem is not null)
        {
            roots = [];
            roots.ImportFromPem(caPem);
            if (roots.Count == 0)
            {
                return "caCertificates holds no PEM certificate";
            }
        }

        if (!mutual)
        {
            return null;
        }

        var certificatePem = config.ClientCertificatePem ?? (config.ClientCertificateFile is { } certFile ? File.ReadAllText(certFile) : null);
        var keyPem = config.PrivateKeyPem ?? (config.PrivateKeyFile is { } keyFile ? File.ReadAllText(keyFile) : null);
        if (certificatePem is null || keyPem is null)
        {
            return "MUTUAL needs a client certificate and its private key";
        }

        using var pemCertificate = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        // An ephemeral key from PEM cannot be used by the TLS stack on every platform: export and import once.
        var certificate = X509CertificateLoader.LoadPkcs12(pemCertificate.Export(X509ContentType.Pkcs12), null);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(certificatePem);
        var intermediates = new X509Certificate2Collection(chain.Cast<X509Certificate2>().Where(c => c.Thumbprint != certificate.Thumbprint).ToArray());
        client = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
        return null;
    }

    /// <summary><c>api.example.com</c> for <c>api.example.com:443</c>, <c>::1</c> for <c>[::1]:80</c>.</summary>
    internal static string? HostOf(string? authority)
    {
        if (string.IsNullOrEmpty(authority))
        {
            return null;
        }

        var colon = Routing.RouteRequest.AuthorityPortSeparator(authority);
        var host = colon >= 0 ? authority[..colon] : authority;
        return host.Trim('[', ']').TrimEnd('.').ToLowerInvariant() is { Length: > 0 } name ? name : null;
    }
}

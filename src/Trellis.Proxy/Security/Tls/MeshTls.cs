using System.Collections.Frozen;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Identity;

namespace Trellis.Proxy.Security.Tls;

/// <summary>Where a handshake's verdict on the peer lands: the validation callback writes it, the connection reads it after.</summary>
internal sealed class PeerSlot
{
    public PeerVerdict Verdict { get; set; }
}

/// <summary>
/// The proxy's mTLS settings in one place, for both sides and every engine: TLS 1.3 only, the workload's certificate (with
/// its intermediates, from <see cref="WorkloadIdentities"/>, so a renewal applies to the next handshake), ALPN, client
/// certificates required, and peers checked by <see cref="PeerCertificates"/> against the trust bundle (never the system's
/// roots). Certificate contexts are made once per certificate, not per handshake.
/// </summary>
internal sealed class MeshTls(WorkloadIdentities identities, TimeProvider time, ILogger log, Routing.SnapshotHolder? snapshots = null)
{
    private (Routing.CompiledSnapshot? Snapshot, FrozenDictionary<string, PeerAuthenticationMode> Modes) _modes;

    public static readonly SslApplicationProtocol[] Http1AndHttp2 = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11];
    public static readonly SslApplicationProtocol[] Http2Only = [SslApplicationProtocol.Http2];
    public static readonly SslApplicationProtocol[] Http1Only = [SslApplicationProtocol.Http11];

    /// <summary>
    /// The ALPN of mTLS between TCP relays, Istio's <c>istio</c>: the inbound relay of a workload tells the mesh's mTLS
    /// (terminated, then relayed in the clear to the workload) from the application's own TLS (relayed as it is) by it.
    /// </summary>
    public static readonly SslApplicationProtocol TcpAlpn = new(Tcp.TlsClientHello.MeshAlpnPrefix);

    public static readonly SslApplicationProtocol[] TcpOnly = [TcpAlpn];

    /// <summary>A handshake that takes longer than this is abandoned (a client that connects and says nothing).</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly ConditionalWeakTable<WorkloadCertificate, SslStreamCertificateContext> _contexts = new();

    public WorkloadIdentities Identities => identities;

    public TimeProvider Time => time;

    public ILogger Log => log;

    /// <summary>
    /// A listener's PeerAuthentication mode in the current snapshot, read per connection: a PeerAuthentication change
    /// applies to the next connection without rebinding the listener (and dropping its connections).
    /// </summary>
    public PeerAuthenticationMode ModeOf(string listener, PeerAuthenticationMode fallback)
    {
        if (snapshots is null)
        {
            return fallback;
        }

        var current = snapshots.Current;
        var cached = _modes;
        if (!ReferenceEquals(cached.Snapshot, current))
        {
            cached = (current, current.Source.Listeners.ToFrozenDictionary(l => l.Name, l => l.Mtls, StringComparer.Ordinal));
            _modes = cached;
        }

        return cached.Modes.TryGetValue(listener, out var mode) ? mode : fallback;
    }

    /// <summary>Whether this proxy holds a certificate for <paramref name="identity"/> (it can then speak mTLS as it).</summary>
    public bool Holds(string? identity) => identity is not null && identities.Get(identity) is not null;

    /// <summary>A server's options for one handshake as <paramref name="identity"/>; null when no certificate is held for it.</summary>
    public SslServerAuthenticationOptions? Server(string identity, HttpProtocols protocols, PeerSlot slot) => Server(identity, Alpn(protocols), slot);

    /// <summary>A server's options for one handshake as <paramref name="identity"/>, offering <paramref name="alpn"/>.</summary>
    public SslServerAuthenticationOptions? Server(string identity, SslApplicationProtocol[] alpn, PeerSlot slot)
    {
        if (identities.Get(identity) is not { } own || TrustDomain(identity) is not { } trustDomain)
        {
            return null;
        }

        var roots = identities.TrustBundle;
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = Context(own),
            ClientCertificateRequired = true,
            EnabledSslProtocols = SslProtocols.Tls13,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            ApplicationProtocols = [.. alpn],
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                slot.Verdict = PeerCertificates.Verify(certificate, chain, roots, trustDomain, time.GetUtcNow(), client: true);
                return slot.Verdict.Peer is not null;
            },
        };
    }

    /// <summary>
    /// A client's options for one handshake as <paramref name="identity"/> towards a server that must be one of
    /// <paramref name="expected"/> (secure naming); null when no certificate is held for <paramref name="identity"/>.
    /// </summary>
    public SslClientAuthenticationOptions? Client(string identity, IReadOnlySet<string> expected, SslApplicationProtocol alpn, string targetHost, PeerSlot slot)
    {
        if (identities.Get(identity) is not { } own || TrustDomain(identity) is not { } trustDomain)
        {
            return null;
        }

        var roots = identities.TrustBundle;
        return new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            ClientCertificateContext = Context(own),
            EnabledSslProtocols = SslProtocols.Tls13,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            ApplicationProtocols = [alpn],
            AllowTlsResume = true,
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                slot.Verdict = PeerCertificates.CheckServer(
                    PeerCertificates.Verify(certificate, chain, roots, trustDomain, time.GetUtcNow(), client: false), expected);
                return slot.Verdict.Peer is not null;
            },
        };
    }

    public static SslApplicationProtocol[] Alpn(HttpProtocols protocols) => protocols switch
    {
        HttpProtocols.Http2 => Http2Only,
        HttpProtocols.Http1 => Http1Only,
        _ => Http1AndHttp2,
    };

    private SslStreamCertificateContext Context(WorkloadCertificate own) =>
        _contexts.GetValue(own, static c => SslStreamCertificateContext.Create(c.Certificate, c.Intermediates, offline: true));

    private static string? TrustDomain(string identity) => SpiffeId.TryParse(identity, out var id) ? id.TrustDomain : null;
}

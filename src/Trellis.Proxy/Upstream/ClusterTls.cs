using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Security.Tls;

namespace Trellis.Proxy.Upstream;

/// <summary>
/// The TLS decision of one cluster (of one snapshot): which connector an attempt from a workload to an endpoint uses.
/// <see cref="ClusterTlsMode.Auto"/> is Istio's auto mTLS: mTLS to an endpoint whose proxy accepts it, when the calling
/// workload has an identity; ISTIO_MUTUAL always mTLS (failing, logged, without a client certificate); DISABLE never;
/// SIMPLE and MUTUAL always TLS with the rule's own settings, one connector per server name sent (auto SNI follows the
/// request's host).
/// </summary>
internal sealed class ClusterTls
{
    private readonly ClusterTlsMode _mode;
    private readonly FrozenSet<EndpointState> _mtlsEndpoints;
    private readonly MeshConnectors _connectors;
    private readonly TcpConnector _tcp;
    private readonly FrozenSet<string> _expected;
    private readonly string _expectedKey;
    private readonly string? _sni;
    private readonly SslApplicationProtocol _alpn;
    private readonly OriginationTls? _origination;
    private readonly ConcurrentDictionary<string, IUpstreamConnector> _bySource = new(StringComparer.Ordinal);

    public ClusterTls(ClusterConfig config, EndpointState[] endpoints, TcpConnector tcp, MeshConnectors connectors)
    {
        var tls = config.Tls!;
        _mode = tls.Mode;
        _tcp = tcp;
        _connectors = connectors;
        _expected = tls.PeerIdentities.ToFrozenSet(StringComparer.Ordinal);
        _expectedKey = string.Join(',', tls.PeerIdentities.Order(StringComparer.Ordinal));
        _sni = tls.Sni;
        _alpn = config.Protocol == UpstreamProtocol.Http2 ? SslApplicationProtocol.Http2 : SslApplicationProtocol.Http11;
        var configured = config.Endpoints ?? [];
        _mtlsEndpoints = endpoints.Where((e, i) => i < configured.Count && configured[i].Mtls).ToFrozenSet(EndpointIdentity.Instance);
        if (_mode is ClusterTlsMode.Simple or ClusterTlsMode.Mutual)
        {
            _origination = connectors.Origination(tls.Origination ?? new OriginationTlsConfig(), _mode == ClusterTlsMode.Mutual);
        }
    }

    /// <summary>
    /// The connector of a relayed TCP connection from <paramref name="source"/> to <paramref name="endpoint"/>: when the
    /// cluster originates TLS (SIMPLE, MUTUAL), the same origination settings and handshake path as HTTP's, sending the
    /// rule's <c>sni</c> else <paramref name="host"/>, and no ALPN (the bytes are not HTTP); when the attempt speaks mesh
    /// mTLS (<see cref="UsesMtls"/>: auto mTLS, ISTIO_MUTUAL), the source's mTLS with the mesh's TCP ALPN (the inbound
    /// relay tells it from the application's own TLS by it); else <paramref name="plain"/>.
    /// </summary>
    public IUpstreamConnector ForRelay(EndpointState endpoint, string? source, string? host, IUpstreamConnector plain)
    {
        if (_origination is { } origination)
        {
            return _connectors.Originate(origination, origination.ServerName(host), default, _tcp);
        }

        return UsesMtls(endpoint, source)
            ? _connectors.For(source ?? string.Empty, _expected, _expectedKey, MeshTls.TcpAlpn, _tcp, _sni)
            : plain;
    }

    /// <summary>Whether an attempt from <paramref name="source"/> to <paramref name="endpoint"/> speaks mTLS.</summary>
    public bool UsesMtls(EndpointState endpoint, string? source) => _mode switch
    {
        ClusterTlsMode.IstioMutual => true,
        ClusterTlsMode.Disable or ClusterTlsMode.Simple or ClusterTlsMode.Mutual => false,
        _ => source is not null && _mtlsEndpoints.Contains(endpoint) && _connectors.Tls.Holds(source),
    };

    /// <summary>
    /// The connector of an attempt: <paramref name="plain"/> for cleartext, the mTLS connector of the source identity, or
    /// the origination connector of the server name for a request to <paramref name="authority"/> (the upstream Host).
    /// </summary>
    public IUpstreamConnector For(EndpointState endpoint, string? source, IUpstreamConnector plain, string? authority)
    {
        if (_origination is { } origination)
        {
            return _connectors.Originate(origination, origination.ServerName(authority), _alpn, _tcp);
        }

        if (!UsesMtls(endpoint, source))
        {
            return plain;
        }

        source ??= string.Empty;
        return _bySource.TryGetValue(source, out var known)
            ? known
            : _bySource.GetOrAdd(source, static (s, self) => self._connectors.For(s, self._expected, self._expectedKey, self._alpn, self._tcp, self._sni), this);
    }
}

/// <summary>
/// The proxy's TLS connectors, shared by every snapshot: a cluster of a new snapshot finds the connector (and so the pooled
/// connections) of the same client identity or origination settings, servers, server name and protocol, instead of
/// reconnecting after each push.
/// </summary>
internal sealed class MeshConnectors(MeshTls tls, Func<SocketsHttpHandler> handlers)
{
    /// <summary>Server names an origination keeps connectors for; beyond it (a wildcard host asked under ever new names) they are not kept.</summary>
    private const int MaxOriginationConnectors = 4096;

    private readonly ConcurrentDictionary<(string Source, string Expected, SslApplicationProtocol Alpn, TcpConnector Tcp, string? Sni), TlsConnector> _connectors = new();
    private readonly ConcurrentDictionary<string, OriginationTls> _settings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(OriginationTls Settings, string? ServerName, SslApplicationProtocol Alpn, TcpConnector Tcp), TlsConnector> _originations = new();

    public MeshTls Tls => tls;

    public TlsConnector For(string source, FrozenSet<string> expected, string expectedKey, SslApplicationProtocol alpn, TcpConnector tcp, string? sni) =>
        _connectors.GetOrAdd(
            (source, expectedKey, alpn, tcp, sni),
            static (key, state) => new TlsConnector(new MeshClientTls(state.tls, key.Source, state.expected, key.Alpn, key.Sni), key.Tcp, state.tls.Time, state.handlers),
            (tls, expected, handlers));

    /// <summary>
    /// The loaded settings of an origination, one per distinct configuration by value (a push that keeps a rule keeps
    /// its connectors and their pooled connections). Replaced settings are not dropped: rules change rarely.
    /// </summary>
    public OriginationTls Origination(OriginationTlsConfig config, bool mutual)
    {
        var key = string.Join(
            '\u0001',
            mutual ? "MUTUAL" : "SIMPLE",
            config.Sni,
            string.Join(',', config.SubjectAltNames ?? []),
            config.CaCertificatesPem,
            config.CaCertificatesFile,
            config.ClientCertificatePem,
            config.PrivateKeyPem,
            config.ClientCertificateFile,
            config.PrivateKeyFile,
            config.InsecureSkipVerify ? "insecure" : "verify",
            config.Error);
        return _settings.GetOrAdd(key, static (_, state) => new OriginationTls(state.config, state.mutual, state.tls), (config, mutual, tls));
    }

    public TlsConnector Originate(OriginationTls settings, string? serverName, SslApplicationProtocol alpn, TcpConnector tcp)
    {
        var key = (settings, serverName, alpn, tcp);
        if (_originations.TryGetValue(key, out var known))
        {
            return known;
        }

        var connector = new TlsConnector(new OriginationClientTls(settings, serverName, alpn), tcp, tls.Time, handlers);
        return _originations.Count < MaxOriginationConnectors ? _originations.GetOrAdd(key, connector) : connector;
    }
}

/// <summary>Endpoints by reference: an <see cref="EndpointState"/> is the live state of one address, kept across snapshots.</summary>
internal sealed class EndpointIdentity : IEqualityComparer<EndpointState>
{
    public static readonly EndpointIdentity Instance = new();

    public bool Equals(EndpointState? x, EndpointState? y) => ReferenceEquals(x, y);

    public int GetHashCode(EndpointState obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
}

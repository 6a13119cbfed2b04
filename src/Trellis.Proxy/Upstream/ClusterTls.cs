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
/// workload has an identity; ISTIO_MUTUAL always mTLS (failing, logged, without a client certificate); DISABLE never.
/// </summary>
internal sealed class ClusterTls
{
    private readonly ClusterTlsMode _mode;
    private readonly FrozenSet<EndpointState> _mtlsEndpoints;
    private readonly MeshConnectors _connectors;
    private readonly TcpConnector _tcp;
    private readonly FrozenSet<string> _expected;
    private readonly string _expectedKey;
    private readonly SslApplicationProtocol _alpn;
    private readonly ConcurrentDictionary<string, IUpstreamConnector> _bySource = new(StringComparer.Ordinal);

    public ClusterTls(ClusterConfig config, EndpointState[] endpoints, TcpConnector tcp, MeshConnectors connectors)
    {
        var tls = config.Tls!;
        _mode = tls.Mode;
        _tcp = tcp;
        _connectors = connectors;
        _expected = tls.PeerIdentities.ToFrozenSet(StringComparer.Ordinal);
        _expectedKey = string.Join(',', tls.PeerIdentities.Order(StringComparer.Ordinal));
        _alpn = config.Protocol == UpstreamProtocol.Http2 ? SslApplicationProtocol.Http2 : SslApplicationProtocol.Http11;
        var configured = config.Endpoints ?? [];
        _mtlsEndpoints = endpoints.Where((e, i) => i < configured.Count && configured[i].Mtls).ToFrozenSet(EndpointIdentity.Instance);
    }

    /// <summary>Whether an attempt from <paramref name="source"/> to <paramref name="endpoint"/> speaks mTLS.</summary>
    public bool UsesMtls(EndpointState endpoint, string? source) => _mode switch
    {
        ClusterTlsMode.IstioMutual => true,
        ClusterTlsMode.Disable => false,
        _ => source is not null && _mtlsEndpoints.Contains(endpoint) && _connectors.Tls.Holds(source),
    };

    /// <summary>The connector of an attempt: <paramref name="plain"/> for cleartext, else the mTLS connector of the source identity.</summary>
    public IUpstreamConnector For(EndpointState endpoint, string? source, IUpstreamConnector plain)
    {
        if (!UsesMtls(endpoint, source))
        {
            return plain;
        }

        source ??= string.Empty;
        return _bySource.TryGetValue(source, out var known)
            ? known
            : _bySource.GetOrAdd(source, static (s, self) => self._connectors.For(s, self._expected, self._expectedKey, self._alpn, self._tcp), this);
    }
}

/// <summary>
/// The proxy's mTLS connectors, shared by every snapshot: a cluster of a new snapshot finds the connector (and so the pooled
/// connections) of the same client identity, servers and protocol, instead of reconnecting after each push.
/// </summary>
internal sealed class MeshConnectors(MeshTls tls, Func<SocketsHttpHandler> handlers)
{
    private readonly ConcurrentDictionary<(string Source, string Expected, SslApplicationProtocol Alpn, TcpConnector Tcp), TlsConnector> _connectors = new();

    public MeshTls Tls => tls;

    public TlsConnector For(string source, FrozenSet<string> expected, string expectedKey, SslApplicationProtocol alpn, TcpConnector tcp) =>
        _connectors.GetOrAdd((source, expectedKey, alpn, tcp), static (key, state) => new TlsConnector(state.tls, key.Tcp, key.Source, state.expected, key.Alpn, state.handlers), (tls, expected, handlers));
}

/// <summary>Endpoints by reference: an <see cref="EndpointState"/> is the live state of one address, kept across snapshots.</summary>
internal sealed class EndpointIdentity : IEqualityComparer<EndpointState>
{
    public static readonly EndpointIdentity Instance = new();

    public bool Equals(EndpointState? x, EndpointState? y) => ReferenceEquals(x, y);

    public int GetHashCode(EndpointState obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
}

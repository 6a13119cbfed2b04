namespace Trellis.Api.Networking;

/// <summary>What a service port carries, as far as the proxy is concerned.</summary>
public enum PortProtocol
{
    /// <summary>HTTP/1.1 upstreams (also a port whose protocol is not declared: Istio sniffs it, Trellis takes HTTP).</summary>
    Http,
    /// <summary>HTTP/2 with prior knowledge upstream: <c>http2</c>, <c>grpc</c>, <c>grpc-web</c>.</summary>
    Http2,
    /// <summary>Opaque TCP: <c>tcp</c>, <c>mongo</c>, <c>mysql</c>, <c>redis</c>.</summary>
    Tcp,
    /// <summary>TLS the proxy does not terminate (<c>tls</c>, <c>https</c>): routed as TCP, by SNI where routes ask.</summary>
    Tls,
    /// <summary>UDP: not proxied.</summary>
    Udp,
}

/// <summary>
/// Istio's protocol selection (pkg/config/kube/conversion.go <c>ConvertProtocol</c>, pkg/config/protocol): a Service
/// port's <c>appProtocol</c> when set, else the prefix of its name up to the first <c>-</c> (<c>grpc-web</c> whole);
/// the <c>protocol</c> field of ServiceEntry and Gateway ports is the same vocabulary, case-insensitive.
/// </summary>
public static class PortProtocols
{
    /// <summary>A Kubernetes Service port.</summary>
    public static PortProtocol OfServicePort(string? name, string? appProtocol, string? transport)
    {
        if (string.Equals(transport, "UDP", StringComparison.OrdinalIgnoreCase))
        {
            return PortProtocol.Udp;
        }

        var word = name ?? "";
        if (appProtocol is { Length: > 0 })
        {
            // The standard names Kubernetes defines for appProtocol only.
            switch (appProtocol)
            {
                case "kubernetes.io/h2c": return PortProtocol.Http2;
                case "kubernetes.io/ws": return PortProtocol.Http;
                case "kubernetes.io/wss": return PortProtocol.Tls;
            }

            word = appProtocol;
        }

        if (word.StartsWith("grpc-web", StringComparison.OrdinalIgnoreCase))
        {
            return PortProtocol.Http2;
        }

        var dash = word.IndexOf('-', StringComparison.Ordinal);
        return Parse(dash >= 0 ? word[..dash] : word);
    }

    /// <summary>A ServiceEntry or Gateway port's <c>protocol</c>; unknown words are HTTP, as a port Istio would sniff.</summary>
    public static PortProtocol Parse(string? protocol) => protocol?.ToUpperInvariant() switch
    {
        "HTTP2" or "GRPC" or "GRPC-WEB" => PortProtocol.Http2,
        "TCP" or "MONGO" or "MYSQL" or "REDIS" => PortProtocol.Tcp,
        "TLS" or "HTTPS" => PortProtocol.Tls,
        "UDP" => PortProtocol.Udp,
        _ => PortProtocol.Http,
    };

    /// <summary>Whether requests to such a port are HTTP requests the proxy routes by its HTTP rules.</summary>
    public static bool IsHttp(this PortProtocol protocol) => protocol is PortProtocol.Http or PortProtocol.Http2;
}

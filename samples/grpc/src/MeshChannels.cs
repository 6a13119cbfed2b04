using System.Collections.Concurrent;
using Grpc.Net.Client;

namespace Trellis.Samples.Grpc;

/// <summary>
/// Channels to other services through the workload's proxy. HTTP_PROXY names the outbound listener; gRPC is HTTP/2,
/// which .NET does not send through an HTTP proxy, so each call goes to the listener itself in h2c with the
/// service's authority (<c>back:50051</c>), which is what the listener routes by. Without HTTP_PROXY (outside the
/// mesh) the authority is dialled directly.
/// </summary>
internal sealed class MeshChannels(Uri? outbound)
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.OrdinalIgnoreCase);

    public static MeshChannels FromEnvironment() =>
        new(Environment.GetEnvironmentVariable("HTTP_PROXY") is { Length: > 0 } proxy ? new Uri(proxy) : null);

    public GrpcChannel For(string authority) => _channels.GetOrAdd(authority, a => outbound is null
        ? GrpcChannel.ForAddress("http://" + a)
        : GrpcChannel.ForAddress(outbound, new GrpcChannelOptions
        {
            HttpHandler = new AuthorityHandler(a) { InnerHandler = new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = true } },
        }));

    /// <summary>Sets the request's authority (HTTP/2's <c>:authority</c>, from the Host header) to the service called.</summary>
    private sealed class AuthorityHandler(string authority) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Host = authority;
            return base.SendAsync(request, cancellationToken);
        }
    }
}

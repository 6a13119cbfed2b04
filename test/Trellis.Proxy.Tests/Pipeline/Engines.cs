using System.Net;
using System.Net.Sockets;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Pipeline;

/// <summary>The four ways a request reaches the pipeline, and a proxy started for one of them.</summary>
public enum Engine
{
    Http1Fast,
    Http1Kestrel,
    Http2Fast,
    Http2Kestrel,
}

internal static class Engines
{
    public static TheoryData<Engine> All() => new(Enum.GetValues<Engine>());

    public static bool IsHttp2(this Engine engine) => engine is Engine.Http2Fast or Engine.Http2Kestrel;

    /// <summary>A proxy with one listener of the engine's protocol and fast-path setting, serving <paramref name="routes"/> for every host.</summary>
    public static Task<ProxyHarness> StartAsync(
        Engine engine, IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters, RateLimitConfig? listenerLimit = null, TimeProvider? time = null)
    {
        var listener = Snapshots.Listener(protocols: engine.IsHttp2() ? HttpProtocols.Http2 : HttpProtocols.Http1) with { RateLimit = listenerLimit };
        var snapshot = new ProxySnapshot("1", [listener], [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], routes)])], clusters);
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        return ProxyHarness.StartAsync(snapshot, options, time: time);
    }

    /// <summary>A request in the engine's protocol version.</summary>
    public static HttpRequestMessage Request(Engine engine, HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, path)
        {
            Version = engine.IsHttp2() ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        foreach (var (name, value) in headers)
        {
            if (name.Equals("host", StringComparison.OrdinalIgnoreCase))
            {
                request.Headers.Host = value;
            }
            else if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return request;
    }

    public static string? Field(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : null;

    /// <summary>A loopback port with nothing listening.</summary>
    /// <summary>
    /// A loopback port that refuses connections for as long as the result is held: a socket bound to it that does not
    /// listen (the kernel answers a connect with RST) and, without SO_REUSEADDR, keeps every other test's listener off
    /// it. A port that was merely free when asked could be taken by a parallel test's server before the proxy connects.
    /// </summary>
    public static ClosedPort ClosedPort()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return new ClosedPort(socket);
    }
}

/// <summary>A reserved loopback port nothing listens on (<see cref="Engines.ClosedPort"/>).</summary>
internal sealed class ClosedPort(Socket socket) : IDisposable
{
    public int Port { get; } = ((IPEndPoint)socket.LocalEndPoint!).Port;

    public void Dispose() => socket.Dispose();
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Snapshots;
using KestrelProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;

namespace Trellis.ProxyHost.Tests.Infrastructure;

/// <summary>
/// Both builds of trellis-proxy started once with the same static snapshot (each on its own ports): an
/// HTTP/1.1, an h2c, a TLS and a serving listener in front of one route table that exercises routing,
/// rewrites, redirects, header operations, timeouts, HTTP/2 upstreams and upstream failures.
/// </summary>
public sealed class ParityFixture : IAsyncLifetime
{
    private readonly Dictionary<string, (ProxyProcess Process, Ports Ports)> _proxies = [];
    private string _dir = "";

    public EchoBackend Http1Backend { get; private set; } = null!;

    public EchoBackend Http2Backend { get; private set; } = null!;

    public string CertificateSubject => "CN=gateway.example.com";

    public Ports PortsOf(ProxyBuild build) => _proxies[build.Name].Ports;

    public string Output(ProxyBuild build) => _proxies[build.Name].Process.Stdout + _proxies[build.Name].Process.Stderr;

    public async Task InitializeAsync()
    {
        _dir = Directory.CreateTempSubdirectory("trellis-proxy-parity").FullName;
        Http1Backend = await EchoBackend.StartAsync(KestrelProtocols.Http1);
        Http2Backend = await EchoBackend.StartAsync(KestrelProtocols.Http2);
        var (cert, key) = SelfSigned("gateway.example.com");
        foreach (var build in ProxyBuild.Both)
        {
            var ports = new Ports(FreePorts.Next(), FreePorts.Next(), FreePorts.Next(), FreePorts.Next());
            var file = Path.Combine(_dir, build.Name + ".json");
            await File.WriteAllTextAsync(file, FakeControlPlane.Json(Snapshot(ports, cert, key)));
            var process = ProxyProcess.Start(build, "--snapshot", file, "--name", "parity/" + build.Name, "--log-level", "warning");
            _proxies[build.Name] = (process, ports);
            await process.WaitForPortsAsync(ports.Http1, ports.Http2, ports.Tls, ports.Serving);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var (process, _) in _proxies.Values)
        {
            await process.DisposeAsync();
        }

        await Http1Backend.DisposeAsync();
        await Http2Backend.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private ProxySnapshot Snapshot(Ports ports, string cert, string key)
    {
        var backend = new EndpointConfig("127.0.0.1", Http1Backend.Port);
        var requestOps = new HeaderOperationsConfig(
            Set: new Dictionary<string, string> { ["X-Set"] = "proxy" },
            Add: new Dictionary<string, string> { ["X-Add"] = "proxy" },
            Remove: ["X-Drop"]);
        var responseOps = new HeaderOperationsConfig(
            Set: new Dictionary<string, string> { ["X-Resp-Set"] = "proxy" },
            Add: new Dictionary<string, string> { ["X-Up"] = "added" },
            Remove: ["X-Remove-Me"]);
        RouteConfig Route(string name, RouteMatchConfig? match, string cluster) =>
            new(name, match is null ? [] : [match], [new WeightedClusterConfig(cluster, 100)]);
        var prefix = (string p) => new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, p));
        IReadOnlyList<RouteConfig> routes =
        [
            new RouteConfig("redirect", [new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Exact, "/old"))], [],
                Redirect: new RedirectConfig(Uri: "/new", Authority: "moved.example", StatusCode: 308)),
            Route("rewrite", prefix("/v1/"), "backend") with { Rewrite = new RewriteConfig("/v2/", "rewritten.example") },
            Route("regex", new RouteMatchConfig(
                Uri: new StringMatchConfig(StringMatchKind.Regex, "/re+gex"),
                QueryParams: new Dictionary<string, StringMatchConfig> { ["q"] = new(StringMatchKind.Exact, "1") },
                Headers: new Dictionary<string, StringMatchConfig> { ["x-variant"] = new(StringMatchKind.Present, "") }), "backend")
                with { ResponseHeaders = responseOps },
            Route("h2up", prefix("/h2up"), "h2backend"),
            Route("dead", prefix("/dead"), "dead"),
            Route("empty", prefix("/empty"), "empty"),
            Route("slow", prefix("/slow"), "backend") with { Timeout = TimeSpan.FromMilliseconds(300) },
            Route("default", null, "backend") with { RequestHeaders = requestOps, ResponseHeaders = responseOps },
        ];
        return new ProxySnapshot(
            "parity-1",
            [
                new ListenerConfig("h1", "127.0.0.1", ports.Http1, ListenerKind.Gateway, "rt", Protocols: HttpProtocols.Http1),
                new ListenerConfig("h2", "127.0.0.1", ports.Http2, ListenerKind.Gateway, "rt", Protocols: HttpProtocols.Http2),
                new ListenerConfig("tls", "127.0.0.1", ports.Tls, ListenerKind.Gateway, "rt", Tls: new ListenerTlsConfig(cert, key)),
                new ListenerConfig("serving", "127.0.0.1", ports.Serving, ListenerKind.Inbound, "rt", "instance-1", HttpProtocols.Http1,
                    Serving: new InstanceServingConfig(ContainerConcurrency: 4, QueueDepth: 4, Timeout: TimeSpan.FromSeconds(1))),
            ],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], routes)])],
            [
                new ClusterConfig("backend", [backend]),
                new ClusterConfig("h2backend", [new EndpointConfig("127.0.0.1", Http2Backend.Port)], Protocol: UpstreamProtocol.Http2),
                new ClusterConfig("dead", [new EndpointConfig("127.0.0.1", FreePorts.Next())]),
                new ClusterConfig("empty", []),
            ]);
    }

    private static (string Certificate, string Key) SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    public sealed record Ports(int Http1, int Http2, int Tls, int Serving);
}

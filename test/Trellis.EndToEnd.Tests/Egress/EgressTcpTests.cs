using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.Egress;

/// <summary>
/// ServiceEntry TCP and TLS ports through the real binary: a workload reaches an "external" database (a TCP server on
/// 127.0.0.2, resolution STATIC; another on 127.0.0.1 by its host name, resolution NONE) and external HTTPS APIs (TLS
/// servers on 127.0.0.3 and 127.0.0.4, passed through unterminated and chosen by the ClientHello's server name, one
/// of them by a VirtualService <c>tls</c> rule) through the local ports its environment announces
/// (<c>DB_SERVICE_PORT</c>, <c>APIS_SERVICE_PORT</c>); a DestinationRule's <c>tls.mode: SIMPLE</c> makes the relay
/// originate TLS to a database on 127.0.0.5. A bad entry is refused at apply and changes nothing. And <c>HTTPS_PROXY</c>
/// (HTTP CONNECT) on the outbound listener, under both outbound policies.
/// </summary>
public sealed class EgressTcpTests : IAsyncLifetime
{
    private const string Client = """
        import json, os, sys, time
        with open(sys.argv[1] + ".tmp", "w") as f:
            json.dump(dict(os.environ), f)
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(100000)
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-egress-tcp-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(10) };
    private readonly TestCa _ca = new();
    private readonly List<IAsyncDisposable> _servers = [];
    private readonly List<X509Certificate2> _certificates = [];
    private TrellisProcess _up = null!;
    private ControlPlaneApi _api = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await File.WriteAllTextAsync(Path.Combine(_dir, "client.py"), Client);
        var api = FreePorts.Next();
        _api = new ControlPlaneApi(_http, $"http://127.0.0.1:{api}", "egress-tcp");
        _up = TrellisProcess.Start("up", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--pool-size", "0");
        try
        {
            await Eventually.WaitAsync(_api.HealthyAsync, TimeSpan.FromSeconds(60), "the API", _up);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await _up.DisposeAsync();
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _certificates.ForEach(c => c.Dispose());
        _ca.Dispose();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task ServiceEntryTcpAndTlsPorts_ReachedThroughReservedPorts_BySniAndResolution()
    {
        var db = Track(new EchoServer("db", IPAddress.Parse("127.0.0.2")));
        var local = Track(new EchoServer("local", IPAddress.Loopback));
        var a = Track(new ExternalServer("external-a", IPAddress.Parse("127.0.0.3"), Certificate("a.external.example")));
        var b = Track(new ExternalServer("external-b", IPAddress.Parse("127.0.0.4"), Certificate("b.external.example")));
        var secure = Track(new ExternalServer("secure-db", IPAddress.Parse("127.0.0.5"), Certificate("secure-db.external.example")));
        await _api.ApplyAsync($$$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: db}
            spec:
              hosts: [db.external.example]
              location: MESH_EXTERNAL
              ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
              resolution: STATIC
              endpoints: [{address: {{{db.Address}}}, ports: {tcp-pg: {{{db.Port}}}}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: secure-db}
            spec:
              hosts: [secure-db.external.example]
              location: MESH_EXTERNAL
              ports: [{number: 5433, name: tcp, protocol: TCP}]
              resolution: STATIC
              endpoints: [{address: {{{secure.Address}}}, ports: {tcp: {{{secure.Port}}}}}]
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: external-ca}
            type: Opaque
            data: {ca.crt: {{{Convert.ToBase64String(Encoding.UTF8.GetBytes(_ca.RootPem))}}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: secure-db}
            spec:
              host: secure-db.external.example
              trafficPolicy:
                tls: {mode: SIMPLE, credentialName: external-ca}
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: local-db}
            spec:
              hosts: [localhost]
              location: MESH_EXTERNAL
              ports: [{number: {{{local.Port}}}, name: tcp, protocol: TCP}]
              resolution: NONE
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: apis}
            spec:
              hosts: [a.external.example, b.external.example]
              location: MESH_EXTERNAL
              ports: [{number: 443, name: https, protocol: HTTPS}]
              resolution: STATIC
              endpoints: [{address: {{{a.Address}}}, ports: {https: {{{a.Port}}}}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: b-backend}
            spec:
              hosts: [b-backend.external.example]
              location: MESH_EXTERNAL
              ports: [{number: 443, name: tls, protocol: TLS}]
              resolution: STATIC
              endpoints: [{address: {{{b.Address}}}, ports: {tls: {{{b.Port}}}}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: b}
            spec:
              hosts: [b.external.example]
              tls:
              - match: [{sniHosts: [b.external.example], port: 443}]
                route:
                - destination: {host: b-backend.external.example, port: {number: 443}}
            """);

        // The client starts once the entries exist: its environment names their TCP and TLS ports.
        var envFile = Path.Combine(_dir, "client-env.json");
        await _api.ApplyAsync("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: client}
            spec:
              selector: {matchLabels: {app: client}}
              template:
                metadata: {labels: {app: client}}
                spec:
                  containers:
                  - name: client
                    command: ["python3", "SCRIPT", "ENV_FILE"]
            """.Replace("SCRIPT", Path.Combine(_dir, "client.py"), StringComparison.Ordinal).Replace("ENV_FILE", envFile, StringComparison.Ordinal));
        await Eventually.WaitAsync(() => Task.FromResult(File.Exists(envFile)), TimeSpan.FromSeconds(60), "the client's environment", _up);
        var env = JsonNode.Parse(await File.ReadAllTextAsync(envFile))!.AsObject();
        int Port(string name) => int.Parse((string)env[name]!, CultureInfo.InvariantCulture);
        Assert.Equal("127.0.0.1", (string?)env["DB_SERVICE_HOST"]);
        Assert.Equal($"tcp://127.0.0.1:{Port("DB_SERVICE_PORT")}", (string?)env["DB_PORT_5432_TCP"]);

        // The database, by its STATIC endpoint (the named port's mapping); the listener appears within a push.
        await Eventually.WaitAsync(async () => await TryExchangeAsync(Port("DB_SERVICE_PORT"), "ping") == "db:ping",
            TimeSpan.FromSeconds(30), "the database through DB_SERVICE_PORT", _up);
        // Resolution NONE: where the client meant to go, the entry's host at its port.
        Assert.Equal("local:ping", await TryExchangeAsync(Port("LOCAL_DB_SERVICE_PORT"), "ping"));

        // A DestinationRule's SIMPLE on a TCP port: the client's cleartext bytes leave the mesh inside TLS, the server
        // checked against the Secret's CA and named by the entry's host.
        var answer = await TryExchangeAsync(Port("SECURE_DB_SERVICE_PORT"), "GET / HTTP/1.1\r\nHost: secure-db\r\n\r\n");
        Assert.EndsWith("secure-db secure-db sni=secure-db.external.example client=", answer, StringComparison.Ordinal);

        // HTTPS passes through unterminated: the server's own certificate reaches the client, chosen by the server name.
        var apis = Port("APIS_SERVICE_PORT");
        Assert.Equal("external-a a.external.example sni=a.external.example client=", await TryHttpsAsync(apis, "a.external.example"));
        Assert.Equal("external-b b.external.example sni=b.external.example client=", await TryHttpsAsync(apis, "b.external.example"));
        Assert.Null(await TryHttpsAsync(apis, "c.external.example")); // a name the entry does not list: closed

        // A bad entry (NONE with endpoints, as istiod refuses) is refused with the reason and changes nothing.
        var (status, body) = await _api.TryApplyAsync($$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: db}
            spec:
              hosts: [db.external.example]
              ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
              resolution: NONE
              endpoints: [{address: 127.0.0.9}]
            """);
        Assert.Equal(422, status);
        Assert.Contains("spec.endpoints", body, StringComparison.Ordinal);
        Assert.Equal("db:again", await TryExchangeAsync(Port("DB_SERVICE_PORT"), "again"));
    }

    /// <summary>
    /// <c>HTTPS_PROXY</c>: curl, given the workload's outbound listener (its <c>HTTP_PROXY</c>) as its HTTPS proxy, opens
    /// CONNECT tunnels and speaks TLS end to end: to an "external" HTTPS API a ServiceEntry sends to 127.0.0.2 (STATIC),
    /// and to an unknown server on 127.0.0.3, passed through under <c>ALLOW_ANY</c> and refused with 502 once the mesh
    /// configuration says <c>REGISTRY_ONLY</c>, while the entry's host still answers.
    /// </summary>
    [Fact]
    public async Task HttpsProxy_CurlTunnels_EntryHostReachedUnknownHostByPolicy()
    {
        var api = Track(new ExternalServer("external-api", IPAddress.Parse("127.0.0.2"), Certificate("api.external.example")));
        var unknown = Track(new ExternalServer("unknown", IPAddress.Parse("127.0.0.3"), Certificate("unknown.external.example")));
        await File.WriteAllTextAsync(Path.Combine(_dir, "ca.pem"), _ca.RootPem);
        var script = Path.Combine(_dir, "client.py");
        var envFile = Path.Combine(_dir, "env.json");
        await _api.ApplyAsync($$$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: external-api}
            spec:
              hosts: [api.external.example]
              location: MESH_EXTERNAL
              ports: [{number: 443, name: https, protocol: HTTPS}]
              resolution: STATIC
              endpoints: [{address: {{{api.Address}}}, ports: {https: {{{api.Port}}}}}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: client}
            spec:
              selector: {matchLabels: {app: client}}
              template:
                metadata: {labels: {app: client}}
                spec:
                  containers:
                  - name: client
                    command: ["python3", "{{{script}}}", "{{{envFile}}}"]
            """);
        await Eventually.WaitAsync(() => Task.FromResult(File.Exists(envFile)), TimeSpan.FromSeconds(60), "the client's environment", _up);
        var proxy = (string)JsonNode.Parse(await File.ReadAllTextAsync(envFile))!["HTTP_PROXY"]!;

        // The entry's host, named in the CONNECT: the proxy relays to its STATIC endpoint; the TLS session is curl's own.
        var expected = "external-api api.external.example sni=api.external.example client=";
        await Eventually.WaitAsync(async () => (await CurlAsync(proxy, "https://api.external.example/")).Output == expected,
            TimeSpan.FromSeconds(30), "api.external.example through HTTPS_PROXY", _up);

        // ALLOW_ANY (the default): an unknown destination is passed through to itself (PassthroughCluster).
        var passthrough = $"https://{unknown.Address}:{unknown.Port}/";
        Assert.StartsWith("unknown ", (await CurlAsync(proxy, passthrough, insecure: true)).Output, StringComparison.Ordinal);

        // REGISTRY_ONLY: refused with 502 (BlackHoleCluster); the registry's host still answers.
        await _api.ApplyAsync("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                outboundTrafficPolicy:
                  mode: REGISTRY_ONLY
            """);
        await Eventually.WaitAsync(async () => (await CurlAsync(proxy, passthrough, insecure: true)).Error.Contains("502", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "REGISTRY_ONLY refusing the unknown tunnel", _up);
        Assert.Equal(expected, (await CurlAsync(proxy, "https://api.external.example/")).Output);
    }

    private T Track<T>(T server)
        where T : IAsyncDisposable
    {
        _servers.Add(server);
        return server;
    }

    private X509Certificate2 Certificate(string name)
    {
        var certificate = _ca.Issue(name);
        _certificates.Add(certificate);
        return certificate;
    }

    /// <summary>curl as a workload runs it: HTTPS_PROXY set to the workload's outbound listener, the test CA trusted.</summary>
    private async Task<(string Output, string Error)> CurlAsync(string proxy, string url, bool insecure = false)
    {
        var start = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-sS", "--max-time", "10", "--cacert", Path.Combine(_dir, "ca.pem"), .. insecure ? ["-k"] : Array.Empty<string>(), url])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HTTPS_PROXY"] = proxy;
        start.Environment["NO_PROXY"] = "";
        start.Environment.Remove("no_proxy");
        start.Environment.Remove("https_proxy");
        using var curl = Process.Start(start)!;
        var output = curl.StandardOutput.ReadToEndAsync();
        var error = curl.StandardError.ReadToEndAsync();
        await curl.WaitForExitAsync();
        return (await output, await error);
    }

    /// <summary>Sends, half-closes and reads the answer; null when the connection fails or is closed with nothing.</summary>
    private static async Task<string?> TryExchangeAsync(int port, string request)
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), limit.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, limit.Token);
            socket.Shutdown(SocketShutdown.Send);
            var all = new MemoryStream();
            var buffer = new byte[4096];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token)) > 0)
            {
                all.Write(buffer, 0, read);
            }

            return all.Length == 0 ? null : Encoding.ASCII.GetString(all.ToArray());
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>An HTTPS request for <paramref name="host"/> through the port, the server checked against the test's CA; the body, or null when refused.</summary>
    private async Task<string?> TryHttpsAsync(int port, string host)
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), limit.Token);
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && ChainsToCa(certificate),
            }, limit.Token);
            await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), limit.Token);
            var response = await ReadToEndAsync(tls, limit.Token);
            return response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return null;
        }
    }

    private bool ChainsToCa(X509Certificate certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_ca.Root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(certificate);
        return chain.Build(presented);
    }

    private static async Task<string> ReadToEndAsync(Stream stream, CancellationToken token)
    {
        var all = new MemoryStream();
        await stream.CopyToAsync(all, token);
        return Encoding.ASCII.GetString(all.ToArray());
    }

    /// <summary>A TCP server outside the mesh: answers "NAME:" and what it read once the client has finished sending.</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        public EchoServer(string name, IPAddress address)
        {
            _listener = new TcpListener(address, 0);
            _listener.Start();
            Address = address.ToString();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _accepting = AcceptAsync(name);
        }

        public string Address { get; }

        public int Port { get; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _accepting;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }

            _stop.Dispose();
        }

        private async Task AcceptAsync(string name)
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = AnswerAsync(client, name);
            }
        }

        private async Task AnswerAsync(TcpClient client, string name)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var request = await ReadToEndAsync(stream, _stop.Token);
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{name}:{request}"), _stop.Token);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
                {
                }
            }
        }
    }
}

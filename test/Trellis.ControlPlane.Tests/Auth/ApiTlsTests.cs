using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Trellis.Api.Access;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Ca;
using Trellis.ControlPlane.Tests.ApiServer;

namespace Trellis.ControlPlane.Tests.Auth;

/// <summary>
/// <c>--api-tls</c> on a real control plane on loopback: the API and the push stream serve a certificate from the mesh CA,
/// which a client trusts only through the CA's roots or a pin of its root key, for the names it was issued for.
/// </summary>
public sealed class ApiTlsTests
{
    [Fact]
    public async Task Https_VerifiesWithTheCaRoots_AndNothingElse()
    {
        await using var cp = await ControlPlaneFixture.StartAsync(tls: true);
        Assert.Equal(Uri.UriSchemeHttps, cp.Host.ApiUrl.Scheme);
        Assert.Equal(Uri.UriSchemeHttps, cp.Host.PushUrl.Scheme);

        using var pods = await cp.Http.GetAsync("/api/v1/pods");
        Assert.Equal(HttpStatusCode.OK, pods.StatusCode);

        // The system's roots do not know the mesh CA; another CA's root is no better; cleartext finds no HTTP server.
        using var system = new HttpClient { BaseAddress = cp.Host.ApiUrl };
        await Assert.ThrowsAsync<HttpRequestException>(() => system.GetAsync("/healthz"));
        using var otherCa = CertificateAuthority.CreateSelfSigned("cluster.local", DateTimeOffset.UtcNow);
        using var stranger = Client(cp.Host.ApiUrl, ControlPlaneTrust.FromRoots([otherCa.Root]));
        await Assert.ThrowsAsync<HttpRequestException>(() => stranger.GetAsync("/healthz"));
        using var cleartext = new HttpClient { BaseAddress = new UriBuilder(cp.Host.ApiUrl) { Scheme = "http" }.Uri, Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAsync<HttpRequestException>(() => cleartext.GetAsync("/healthz"));
    }

    [Fact]
    public async Task Certificate_NamesWhatClientsDial_AndNotOtherHosts()
    {
        await using var cp = await ControlPlaneFixture.StartAsync(tls: true);
        var trust = ControlPlaneTrust.FromRoots(cp.Host.Ca.Roots);
        var port = cp.Host.ApiUrl.Port;

        using var byName = Client(new Uri($"https://localhost:{port}"), trust);
        using var named = await byName.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, named.StatusCode);

        // The right server, dialled as a host its certificate does not name: refused as any TLS client refuses it.
        var handler = trust.Apply(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        });
        using var elsewhere = new HttpClient(handler) { BaseAddress = new Uri($"https://api.example.test:{port}") };
        await Assert.ThrowsAsync<HttpRequestException>(() => elsewhere.GetAsync("/healthz"));
    }

    [Fact]
    public async Task Pin_OfTheRootKey_AdoptsTheBundle_AWrongPinIsRefusedBeforeAnyRequest()
    {
        await using var cp = await ControlPlaneFixture.StartAsync(tls: true);
        var pin = ControlPlaneTrust.Hash(cp.Host.Ca.Roots[0]);
        Assert.Matches("^sha256:[0-9a-f]{64}$", pin);

        var pinned = ControlPlaneTrust.Pinned(pin);
        using var before = Client(cp.Host.ApiUrl, pinned);
        await Assert.ThrowsAsync<HttpRequestException>(() => before.GetAsync("/healthz")); // a pin alone trusts nothing yet
        await pinned.ResolveAsync(cp.Host.ApiUrl, CancellationToken.None);
        using var after = Client(cp.Host.ApiUrl, pinned);
        using var health = await after.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        using var otherCa = CertificateAuthority.CreateSelfSigned("cluster.local", DateTimeOffset.UtcNow);
        var wrong = ControlPlaneTrust.Pinned(ControlPlaneTrust.Hash(otherCa.Root));
        var refused = await Assert.ThrowsAsync<IOException>(() => wrong.ResolveAsync(cp.Host.ApiUrl, CancellationToken.None));
        Assert.Contains("has no root matching sha256:", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(ControlPlaneTrust.PinProblem("sha256:1234"));
        Assert.NotNull(ControlPlaneTrust.PinProblem(pin.Replace("sha256:", "md5:", StringComparison.Ordinal)));
        Assert.NotNull(ControlPlaneTrust.PinProblem(pin[..^1] + "g"));
        Assert.Null(ControlPlaneTrust.PinProblem(pin.ToUpperInvariant().Replace("SHA256:", "sha256:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task PushStream_OverTls_DeliversTheProxysSnapshot()
    {
        await using var cp = await ControlPlaneFixture.StartAsync(tls: true);
        var token = cp.Host.Tokens.CreateProcessToken("gateway/tls", ApiRole.Proxy);
        using var http = new HttpClient(ControlPlaneTrust.FromRoots(cp.Host.Ca.Roots).Apply(new SocketsHttpHandler()));
        var hello = new ProxyHello("gateway/tls", ProxyRole.Gateway, null, new Dictionary<string, string> { ["istio"] = "ingressgateway" });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cp.Host.PushUrl, "/push/v1/stream"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact, // HTTP/2 over TLS: ALPN h2
            Content = new StringContent(JsonSerializer.Serialize(hello, WireJson.Options) + "\n"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal((HttpStatusCode.OK, HttpVersion.Version20), (response.StatusCode, response.Version));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var first = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var snapshot = JsonSerializer.Deserialize(first!, WireJsonContext.Default.ProxySnapshot);
        Assert.NotNull(snapshot);
    }

    [Fact]
    public async Task RootRotation_TheApiCertificateMovesToTheNewRoot()
    {
        await using var cp = await ControlPlaneFixture.StartAsync(tls: true);
        var oldRoot = cp.Host.Ca.Roots[0];
        using var first = await cp.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        var (status, code, error) = cp.Host.Ca.Rotate();
        Assert.True(status is not null, $"{code}: {error}");
        var newRoot = cp.Host.Ca.Roots.Single(r => r.Thumbprint != oldRoot.Thumbprint);

        // A client that knows the new root alone is served: the next handshake gets a certificate from it.
        using var fresh = Client(cp.Host.ApiUrl, ControlPlaneTrust.FromRoots([newRoot]));
        using var served = await fresh.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task CaFile_IsReadAgainWhenItChanges()
    {
        await using var cp = await ControlPlaneFixture.StartAsync(tls: true);
        var file = Path.Combine(Path.GetTempPath(), "trellis-ca-" + Guid.NewGuid().ToString("N") + ".pem");
        try
        {
            using var otherCa = CertificateAuthority.CreateSelfSigned("cluster.local", DateTimeOffset.UtcNow);
            await File.WriteAllTextAsync(file, otherCa.Root.ExportCertificatePem());
            var trust = ControlPlaneTrust.FromFile(file);
            using (var wrong = Client(cp.Host.ApiUrl, trust))
            {
                await Assert.ThrowsAsync<HttpRequestException>(() => wrong.GetAsync("/healthz"));
            }

            await File.WriteAllTextAsync(file, cp.Host.Ca.Roots[0].ExportCertificatePem());
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5)); // a distinct stamp even on a coarse clock
            using var right = Client(cp.Host.ApiUrl, trust);
            using var health = await right.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);

            await File.WriteAllTextAsync(file, "not a certificate");
            Assert.Throws<InvalidDataException>(() => ControlPlaneTrust.FromFile(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static HttpClient Client(Uri server, ControlPlaneTrust trust) =>
        new(trust.Apply(new SocketsHttpHandler())) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
}

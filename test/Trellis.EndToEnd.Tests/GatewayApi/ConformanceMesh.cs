using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>
/// One <c>trellis up</c> running the Gateway API conformance infrastructure: the upstream base manifests
/// (../shared/conformance/gateway-api/base) with <c>{GATEWAY_CLASS_NAME}</c> set to <c>trellis</c> and the echo-basic
/// image replaced by Trellis's echo sample, plus the mesh infrastructure (mesh-base.yaml). Differences from a
/// Kubernetes run, all to fit a 2-core machine: one replica per Deployment, and the Deployments no HTTPRoute test
/// calls (coredns, the gRPC and TLS backends) are left out. Gateways get their addresses from a /24 of the loopback
/// range chosen at random, so runs on one machine do not collide on port 80.
/// </summary>
public sealed partial class ConformanceMesh : IAsyncLifetime
{
    public const string GatewayClass = "trellis";
    public const string Infra = "gateway-conformance-infra";
    public const string MeshNamespace = "gateway-conformance-mesh";

    private static readonly string[] SkippedDeployments = ["coredns", "tls-backend", "tls-backend-2", "grpc-infra-backend-v1", "grpc-infra-backend-v2", "grpc-infra-backend-v3", "tcp-backend"];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-gwapi-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(30) };

    public TrellisProcess Up { get; private set; } = null!;

    public ControlPlaneApi Api { get; private set; } = null!;

    /// <summary>The DER of the self-signed certificate in the <c>tls-validity-checks-certificate</c> Secret: what an HTTPS client of the gateways trusts.</summary>
    public byte[] GatewayCertificate { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var api = FreePorts.Next();
        Api = new ControlPlaneApi(_http, $"http://127.0.0.1:{api}", "conformance");
        var range = $"127.{RandomNumberGenerator.GetInt32(101, 250)}.{RandomNumberGenerator.GetInt32(1, 250)}.0/24";
        Up = TrellisProcess.Start("up", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--gateway-addresses", range, "--pool-size", "0");
        try
        {
            await Eventually.WaitAsync(Api.HealthyAsync, TimeSpan.FromSeconds(60), "the API", Up);
            await Api.ApplyAsync(Certificates() + "\n---\n" + Prepare(await File.ReadAllTextAsync(TrellisBinary.Conformance("gateway-api/base/manifests.yaml"))));
            await Api.ApplyAsync(Prepare(await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "test", "Trellis.EndToEnd.Tests", "GatewayApi", "mesh-base.yaml"))));
            foreach (var gateway in new[] { "same-namespace", "all-namespaces", "backend-namespaces" })
            {
                await GatewayAddressAsync(Infra, gateway);
            }

            await Eventually.WaitAsync(async () => await ReadyPodsAsync() >= 8, TimeSpan.FromSeconds(120), "the echo backends ready", Up);
        }
        catch
        {
            await Up.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await Up.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A manifest made runnable here: the class name filled in, the echo image run as Trellis's echo sample.</summary>
    public static string Prepare(string yaml)
    {
        var echo = Path.Combine(TrellisBinary.RepoRoot, "samples", "echo", "bin", "echo.dll");
        yaml = yaml.Replace("{GATEWAY_CLASS_NAME}", GatewayClass, StringComparison.Ordinal).Replace("ECHO_DLL", echo, StringComparison.Ordinal);
        yaml = EchoImage().Replace(yaml, m => $"{m.Value}\n{m.Groups[1].Value}command: [\"dotnet\", \"{echo}\", \"--log-requests=1\"]");
        yaml = Replicas().Replace(yaml, "${1}replicas: 1");
        var documents = yaml.Split("\n---", StringSplitOptions.None)
            .Where(d => !(d.Contains("kind: Deployment", StringComparison.Ordinal) && SkippedDeployments.Any(n => d.Contains($"  name: {n}\n", StringComparison.Ordinal))));
        return string.Join("\n---", documents);
    }

    public Task<JsonObject?> GetAsync(string kind, string ns, string name) =>
        Api.TryGetAsync($"/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/{kind}/{name}");

    /// <summary>Waits until the Gateway is Programmed with an address, and returns the address.</summary>
    public async Task<string> GatewayAddressAsync(string ns, string name)
    {
        string? address = null;
        await Eventually.WaitAsync(async () =>
        {
            var gateway = await GetAsync("gateways", ns, name);
            address = (string?)gateway?["status"]?["addresses"]?[0]?["value"];
            return address is not null && HasCondition(gateway?["status"]?["conditions"], "Programmed", "True", null);
        }, TimeSpan.FromSeconds(30), $"Gateway {ns}/{name} programmed", Up);
        return address!;
    }

    public static bool HasCondition(JsonNode? conditions, string type, string status, string? reason) =>
        conditions is JsonArray array && array.Any(c => (string?)c?["type"] == type && (string?)c?["status"] == status && (reason is null || (string?)c?["reason"] == reason));

    private async Task<int> ReadyPodsAsync()
    {
        var pods = await Api.TryGetAsync("/api/v1/pods");
        return (pods?["items"] as JsonArray ?? []).Count(p => (bool?)p?["status"]?["ready"] == true);
    }

    /// <summary>
    /// The Secrets the upstream suite creates at run time (self-signed certificates for its HTTPS listeners), as
    /// kubernetes.io/tls Secrets.
    /// </summary>
    private string Certificates()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=example.org", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var n in new[] { "example.org", "second-example.org", "*.wildcard.org", "fourth-example.wildcard.org" })
        {
            names.AddDnsName(n);
        }

        request.CertificateExtensions.Add(names.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        GatewayCertificate = cert.RawData;
        var crt = Convert.ToBase64String(Encoding.ASCII.GetBytes(cert.ExportCertificatePem()));
        var pem = Convert.ToBase64String(Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem()));
        return $"""
            apiVersion: v1
            kind: Secret
            metadata:
              name: tls-validity-checks-certificate
              namespace: {Infra}
            type: kubernetes.io/tls
            data:
              tls.crt: {crt}
              tls.key: {pem}
            """;
    }

    [GeneratedRegex(@"^(\s*)image: \S*/echo-basic:\S*$", RegexOptions.Multiline)]
    private static partial Regex EchoImage();

    [GeneratedRegex(@"^(\s*)replicas: \d+$", RegexOptions.Multiline)]
    private static partial Regex Replicas();
}

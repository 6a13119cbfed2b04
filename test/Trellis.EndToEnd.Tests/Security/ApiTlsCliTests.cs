using System.Text.RegularExpressions;

namespace Trellis.EndToEnd.Tests.Security;

/// <summary>
/// <c>trellis controlplane --api-tls</c> through the real binary: the CLI finds the CA in the context it was given and
/// refuses a control plane it cannot verify; an agent on another host pins the CA with the hash the control plane
/// printed (<c>--ca-cert-hash</c>) and joins over TLS, and one given a wrong pin stops before it sends its join token.
/// </summary>
public sealed partial class ApiTlsCliTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-apitls-" + Guid.NewGuid().ToString("N"));
    private readonly List<TrellisProcess> _processes = [];
    private Dictionary<string, string?> _env = [];
    private string _server = "";
    private string _push = "";
    private string _pin = "";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _env = new Dictionary<string, string?> { ["TRELLIS_CONFIG"] = Path.Combine(_dir, "home", "config"), ["TRELLIS_TOKEN"] = null, ["TRELLIS_SERVER"] = null, ["TRELLIS_CA_FILE"] = null };
        var api = FreePorts.Next();
        var push = FreePorts.Next();
        _server = $"https://127.0.0.1:{api}";
        _push = $"https://127.0.0.1:{push}";
        var cp = TrellisProcess.StartWith(_env, "controlplane", "--api-tls", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{push}", "--broker-address", $"127.0.0.1:{FreePorts.Next()}");
        _processes.Add(cp);
        await Eventually.WaitAsync(() => Task.FromResult(cp.Output.Contains("Agents join with", StringComparison.Ordinal)), TimeSpan.FromSeconds(60), "the control plane listening", cp);
        _pin = Pin().Match(cp.Output).Groups[1].Value;
        Assert.True(_pin.Length > 0, cp.Output);
    }

    public async Task DisposeAsync()
    {
        foreach (var p in Enumerable.Reverse(_processes))
        {
            await p.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Cli_TrustsTheContextsCa_AndRefusesAnUnverifiableServer()
    {
        var config = await File.ReadAllTextAsync(_env["TRELLIS_CONFIG"]!);
        Assert.Contains($"server: '{_server}'", config, StringComparison.Ordinal);
        Assert.Contains($"certificate-authority: '{Path.Combine(_dir, "data", "ca", "root-cert.pem")}'", config, StringComparison.Ordinal);

        var whoami = await TrellisProcess.RunWithAsync(_env, "auth", "whoami");
        Assert.True(whoami.Exit == 0, whoami.Stderr);
        Assert.Equal("admin (role admin)", whoami.Stdout.Trim());
        var status = await TrellisProcess.RunWithAsync(_env, "ca", "status");
        Assert.Contains("--ca-cert-hash " + _pin, status.Stdout, StringComparison.Ordinal);

        // Another CA's root given instead: the CLI will not talk to a server it cannot verify (exit 3, unreachable).
        var stranger = Path.Combine(_dir, "stranger.pem");
        using (var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("O=cluster.local", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
            using var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(stranger, root.ExportCertificatePem());
        }

        var refused = await TrellisProcess.RunWithAsync(_env, "auth", "whoami", "--ca-file", stranger);
        Assert.Equal(3, refused.Exit);
        Assert.Contains("its TLS certificate is not trusted", refused.Stderr, StringComparison.Ordinal);

        // Cleartext to the TLS port is no way in either.
        var cleartext = await TrellisProcess.RunWithAsync(_env, "auth", "whoami", "--server", _server.Replace("https:", "http:", StringComparison.Ordinal));
        Assert.Equal(3, cleartext.Exit);
    }

    [Fact]
    public async Task Agent_PinsTheCaAndJoinsOverTls_AWrongPinStopsItBeforeJoining()
    {
        var joinToken = (await File.ReadAllTextAsync(Path.Combine(_dir, "data", "ca", "join-token"))).Trim();
        var agentEnv = new Dictionary<string, string?>(_env) { ["TRELLIS_CONFIG"] = Path.Combine(_dir, "agent-home", "config") }; // another host: no context, no CA file
        var agent = TrellisProcess.StartWith(agentEnv, "agent", "--server", _server, "--push", _push, "--token", joinToken, "--ca-cert-hash", _pin,
            "--node", "tls-node", "--data-dir", Path.Combine(_dir, "agent"), "--pool-size", "0");
        _processes.Add(agent);
        await Eventually.WaitAsync(async () =>
        {
            var nodes = await TrellisProcess.RunWithAsync(_env, "get", "nodes");
            return nodes.Exit == 0 && nodes.Stdout.Contains("tls-node", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(60), "the agent registered over TLS", agent);

        var wrong = "sha256:" + new string('0', 64);
        var (exit, _, stderr) = await TrellisProcess.RunWithAsync(agentEnv, "agent", "--server", _server, "--push", _push, "--token", joinToken, "--ca-cert-hash", wrong,
            "--node", "impostor", "--data-dir", Path.Combine(_dir, "agent2"), "--pool-size", "0");
        Assert.NotEqual(0, exit);
        Assert.Contains("has no root matching " + wrong, stderr, StringComparison.Ordinal);
        var after = await TrellisProcess.RunWithAsync(_env, "get", "nodes");
        Assert.DoesNotContain("impostor", after.Stdout, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"--ca-cert-hash (sha256:[0-9a-f]{64})")]
    private static partial Regex Pin();
}

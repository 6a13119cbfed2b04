using System.CommandLine;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy;
using Trellis.Proxy.Admin;
using Trellis.Proxy.Discovery;

namespace Trellis.Cli.Roles;

/// <summary>
/// <c>trellis proxy</c>: a standalone proxy process, an ingress gateway by default, fed by the control
/// plane's push stream, or a static proxy (a sidecar's inbound and outbound listeners, a gateway) from a
/// snapshot file. The same source is compiled into the Native AOT executable <c>trellis-proxy</c>
/// (src/Trellis.ProxyHost), whose command line is this one without the verb.
/// </summary>
public static class GatewayRole
{
    public static readonly IReadOnlyDictionary<string, string> DefaultLabels = new Dictionary<string, string> { ["istio"] = "ingressgateway" };

    public static ProxyHello Hello(string name, IReadOnlyDictionary<string, string> labels, Uri? admin = null) => new(name, ProxyRole.Gateway, null, labels, admin?.ToString());

    /// <summary>The gateway's admin endpoints (route explain) on a loopback port of their own.</summary>
    public static Task<AdminServer> StartAdminAsync(ProxyServer proxy, System.Net.IPEndPoint endpoint, CancellationToken ct) =>
        AdminServer.StartAsync(endpoint, app => ProxyAdmin.Map(app, proxy), ct);

    public const string Description = "Run an ingress gateway proxy fed by the control plane, or a static one from --snapshot";

    /// <summary>The CLI's <c>proxy</c> verb; <paramref name="server"/>, <paramref name="token"/> and <paramref name="caFile"/> are the CLI's global options.</summary>
    public static Command Create(Option<string> server, Option<string?> token, Option<string?> caFile)
    {
        var command = new Command("proxy", Description);
        Configure(command, server, token, caFile);
        return command;
    }

    /// <summary>
    /// Adds the role's options and action to <paramref name="command"/> (a verb, or <c>trellis-proxy</c>'s root).
    /// Fed by the control plane, the proxy needs a token of role proxy named after it (<c>trellis token create
    /// NAME --role proxy</c>): the control plane pushes it only its own snapshot (docs/security.md).
    /// </summary>
    public static void Configure(Command command, Option<string> server, Option<string?> token, Option<string?> caFile)
    {
        var name = new Option<string>("--name") { Description = "Proxy name", DefaultValueFactory = _ => "gateway/" + Environment.MachineName.ToLowerInvariant() };
        var labels = new Option<string[]>("--label", "-l") { Description = "Gateway labels k=v (Gateway selectors match them); default istio=ingressgateway" };
        var push = RoleOptions.Push();
        var snapshot = new Option<string?>("--snapshot") { Description = "Serve this ProxySnapshot JSON file instead of connecting to a control plane (static mode, as Envoy's static bootstrap)" };
        var logLevel = RoleOptions.LogLevel();
        var admin = new Option<string>("--admin-address") { Description = "Loopback address of the admin endpoints (route explain); port 0 picks one", DefaultValueFactory = _ => "127.0.0.1:0" };
        var identityDir = new Option<string?>("--identity-dir") { Description = "A workload certificate for mTLS in Istio's file layout (cert-chain.pem, key.pem, root-cert.pem); with --snapshot" };
        var joinToken = new Option<string?>("--join-token") { Description = "The control plane's join token: the gateway gets its own workload certificate from the CA and calls workloads over mTLS; default TRELLIS_JOIN_TOKEN" };
        var caCertHash = RoleOptions.CaCertHash();
        foreach (var option in new Option[] { name, labels, push, snapshot, logLevel, admin, identityDir, joinToken, caCertHash })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, ct) =>
        {
            using var loggers = RoleOptions.Loggers(parse.GetValue(logLevel)!);
            var shutdown = RoleOptions.ShutdownRequested();
            var given = (parse.GetValue(labels) ?? []).Select(l => l.Split('=', 2)).ToList();
            if (given.Any(p => p.Length != 2))
            {
                Console.Error.WriteLine("error: --label must be key=value");
                return ExitCodes.Usage;
            }

            var map = given.Count == 0 ? DefaultLabels : given.ToDictionary(p => p[0], p => p[1]);
            await using var proxy = new ProxyServer(new ProxyServerOptions { NodeName = parse.GetValue(name)! }, loggers);
            if (parse.GetValue(identityDir) is { } certificates && StaticIdentity.Load(proxy, certificates, out _) is { } identityError)
            {
                Console.Error.WriteLine($"error: --identity-dir {certificates}: {identityError}");
                return ExitCodes.Usage;
            }

            if (parse.GetValue(snapshot) is { } file)
            {
                return await ServeStaticAsync(proxy, file, shutdown, ct);
            }

            var (pushes, pushError) = Trellis.Agent.Replicas.ReplicaList.Parse(parse.GetValue(push)!, "--push");
            var (servers, serverError) = Trellis.Agent.Replicas.ReplicaList.Parse(parse.GetValue(server)!, "--server");
            if ((pushError ?? serverError) is { } error)
            {
                Console.Error.WriteLine("error: " + error);
                return ExitCodes.Usage;
            }

            var (trust, trustError) = RoleOptions.TrustOf(parse, caFile, [.. servers, .. pushes], caCertHash);
            if (trustError is not null)
            {
                Console.Error.WriteLine("error: " + trustError);
                return ExitCodes.Usage;
            }

            if (RoleOptions.TokenOf(parse, token) is not { } proxyToken)
            {
                Console.Error.WriteLine($"error: a proxy fed by the control plane needs a token of role proxy (--token or TRELLIS_TOKEN): trellis token create {parse.GetValue(name)} --role proxy");
                return ExitCodes.Usage;
            }

            var credential = new Trellis.Api.Access.BearerCredential(proxyToken);
            if (trust is not null)
            {
                await trust.ResolveAsync(servers[0], ct); // a pinned CA is checked before the token is sent anywhere
            }

            await using var adminServer = await StartAdminAsync(proxy, RoleOptions.Endpoint(parse.GetValue(admin)!, "--admin-address"), ct);
            await using var gatewayCertificates = (parse.GetValue(joinToken) ?? Environment.GetEnvironmentVariable("TRELLIS_JOIN_TOKEN")) is { Length: > 0 } join
                ? Trellis.Agent.Identity.GatewayCertificates.Start(servers, parse.GetValue(name)!, join, proxy, loggers.CreateLogger("trellis.proxy"), trust)
                : null;
            var firstApplied = 0;
            async Task<SnapshotApplyResult> ApplyAsync(ProxySnapshot pushed, CancellationToken c)
            {
                var applied = await proxy.ApplyAsync(pushed, c);
                if (applied.Accepted)
                {
                    gatewayCertificates?.Follow(pushed);
                }

                if (applied.Accepted && Interlocked.Exchange(ref firstApplied, 1) == 0)
                {
                    StartupMemory.Release();
                }

                return applied;
            }

            await using var client = new PushClient(pushes, Hello(parse.GetValue(name)!, map, adminServer.Url), ApplyAsync, loggers.CreateLogger<PushClient>(), credential, trust);
            client.Start();
            await using var demand = new Trellis.Agent.ServingReporter(proxy, servers, reportLoad: false, loggers.CreateLogger("trellis.proxy"), parse.GetValue(name)!, credential: credential, trust: trust);
            await Task.WhenAny(shutdown, Task.Delay(Timeout.Infinite, ct));
            return ExitCodes.Ok;
        });
    }

    private static async Task<int> ServeStaticAsync(ProxyServer proxy, string file, Task shutdown, CancellationToken ct)
    {
        ProxySnapshot? config;
        try
        {
            config = System.Text.Json.JsonSerializer.Deserialize(await File.ReadAllTextAsync(file, ct), WireJsonContext.Default.ProxySnapshot);
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            Console.Error.WriteLine($"error: {file}: {e.Message}");
            return ExitCodes.Usage;
        }

        var result = config is null ? new SnapshotApplyResult(false, ["empty snapshot"]) : await proxy.ApplyAsync(config, ct);
        if (!result.Accepted)
        {
            Console.Error.WriteLine($"error: {file}: snapshot rejected:");
            foreach (var e in result.Errors)
            {
                Console.Error.WriteLine("  " + e);
            }

            return ExitCodes.Rejected;
        }

        StartupMemory.Release();
        Console.WriteLine($"proxy serving {file} on {string.Join(", ", proxy.BoundEndpoints)}");
        await Task.WhenAny(shutdown, Task.Delay(Timeout.Infinite, ct));
        return ExitCodes.Ok;
    }
}

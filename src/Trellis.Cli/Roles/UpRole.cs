using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Trellis.Agent;
using Trellis.Agent.Identity;
using Trellis.Api.Snapshots;
using Trellis.Cli.Client;
using Trellis.Cli.Output;
using Trellis.Cli.Verbs;
using Trellis.ControlPlane;
using Trellis.Proxy;
using Trellis.Proxy.Discovery;

namespace Trellis.Cli.Roles;

/// <summary>
/// <c>trellis up [PATH...]</c>: the embedded mode. Control plane, ingress gateway and the local agent
/// (with its node proxy) in this one process; then the given files are applied through the API like
/// <c>trellis apply -f</c>. It says what it restored from the data directory, exits when the API or a gateway
/// listener cannot bind, and prints hints from what the gateway really serves. Ctrl-C or SIGTERM stops the
/// workloads gracefully, then everything else.
/// </summary>
public static class UpRole
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("path") { Description = "Files or directories to apply once started (e.g. samples/bookinfo)", Arity = ArgumentArity.ZeroOrMore };
        var dataDir = RoleOptions.DataDir();
        var api = new Option<string>("--api-address") { Description = "Control plane API address", DefaultValueFactory = _ => "127.0.0.1:15000" };
        var push = new Option<string>("--push-address") { Description = "Control plane push address", DefaultValueFactory = _ => "127.0.0.1:15010" };
        var fresh = new Option<bool>("--fresh") { Description = "Start empty: forget the resources stored in --data-dir by earlier runs" };
        var logLevel = RoleOptions.LogLevel();
        var gatewayAddresses = GatewayAddressOptions.GatewayAddresses();
        var poolSize = RoleOptions.PoolSize();
        var broker = EventingRoleOptions.BrokerAddress();
        var eventingGateway = EventingRoleOptions.EventingGateway();
        var eventStore = EventingRoleOptions.EventStore();
        var eventStoreReplicas = EventingRoleOptions.EventStoreReplicas();
        var prometheus = new Option<bool>("--prometheus") { Description = "Also run Debian's prometheus, scraping every proxy (data in DATA-DIR/prometheus)" };
        var prometheusAddress = new Option<string>("--prometheus-address") { Description = "Where that Prometheus listens", DefaultValueFactory = _ => "127.0.0.1:9090" };
        var scrapeInterval = new Option<int>("--prometheus-scrape-interval") { Description = "Its scrape interval in seconds", DefaultValueFactory = _ => 5 };
        var meshMtls = MeshMtlsDefault.Option();
        var certLifetime = RoleOptions.CertLifetime();
        var apiTls = ApiTlsOptions.Tls();
        var tlsSan = ApiTlsOptions.TlsSan();
        var command = new Command("up", "Run Trellis on this machine: control plane, gateway, agent and proxies in one process") { paths, dataDir, api, push, fresh, logLevel, poolSize, gatewayAddresses, broker, eventingGateway, eventStore, eventStoreReplicas, prometheus, prometheusAddress, scrapeInterval, meshMtls, certLifetime, apiTls, tlsSan };
        command.SetAction(async (parse, ct) =>
        {
            using var loggers = RoleOptions.Loggers(parse.GetValue(logLevel)!);
            var log = loggers.CreateLogger("trellis");
            var shutdown = RoleOptions.ShutdownRequested();
            var data = Path.GetFullPath(parse.GetValue(dataDir)!);
            var apiEndpoint = RoleOptions.Endpoint(parse.GetValue(api)!, "--api-address");
            var pushEndpoint = RoleOptions.Endpoint(parse.GetValue(push)!, "--push-address");
            var prometheusEndpoint = parse.GetValue(prometheus) ? RoleOptions.Endpoint(parse.GetValue(prometheusAddress)!, "--prometheus-address") : null;
            if (prometheusEndpoint is not null && Prometheus.PrometheusRunner.Unavailable() is { } missing)
            {
                Console.Error.WriteLine("error: --prometheus: " + missing);
                return ExitCodes.Usage;
            }

            var certificates = new Trellis.Api.Identity.CertificatePolicy { Lifetime = TimeSpan.FromSeconds(parse.GetValue(certLifetime)) };
            if (certificates.Problem() is { } policyError)
            {
                Console.Error.WriteLine("error: " + policyError);
                return ExitCodes.Usage;
            }

            if (ApiTlsOptions.Problem(parse.GetValue(tlsSan)) is { } sanError)
            {
                Console.Error.WriteLine("error: " + sanError);
                return ExitCodes.Usage;
            }

            if (parse.GetValue(fresh) && UpState.Clear(data, apiEndpoint) is { } refused)
            {
                Console.Error.WriteLine("error: " + refused);
                return ExitCodes.CannotListen;
            }

            var firstStart = !Directory.Exists(UpState.StoreDirectory(data));

            // The admin token and the CLI context exist before the API listens: whoever sees it answer finds its token.
            if (AdminContext.OpenTokens(UpState.StoreDirectory(data), null) is not { } tokens)
            {
                return ExitCodes.Usage;
            }

            var tls = parse.GetValue(apiTls);
            var caFile = tls ? ApiTlsOptions.RootFile(Path.Combine(UpState.StoreDirectory(data), "ca")) : null;
            var adminToken = apiEndpoint.Port == 0 ? null : AdminContext.Publish(tokens, AdminContext.Url(apiEndpoint, tls), caFile);
            var startedAt = DateTimeOffset.UtcNow;
            ControlPlaneHost started;
            try
            {
                started = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
                {
                    DataDirectory = UpState.StoreDirectory(data),
                    Tokens = tokens,
                    Certificates = certificates,
                    ApiEndpoint = apiEndpoint,
                    PushEndpoint = pushEndpoint,
                    Tls = tls,
                    TlsNames = parse.GetValue(tlsSan) ?? [],
                    GatewayAddresses = GatewayAddressOptions.AddressPool(parse.GetValue(gatewayAddresses)!),
                    Eventing = EventingRoleOptions.Eventing(parse.GetValue(broker)!, parse.GetValue(eventingGateway)!, parse.GetValue(eventStore)!, parse.GetValue(eventStoreReplicas)),
                }, loggers, cancellationToken: ct);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine("error: " + ListenFailures.ControlPlane(e, apiEndpoint, pushEndpoint));
                return ExitCodes.CannotListen;
            }

            await using var controlPlane = started;
            if (apiEndpoint.Port == 0)
            {
                adminToken = AdminContext.Publish(tokens, controlPlane.ApiUrl, caFile);
            }

            AdminContext.WarnIfExposed(apiEndpoint, tls);
            // The gateway, the agent and up's own client check the API's certificate with the CA's roots, as any client would.
            var trust = tls ? Trellis.Api.Access.ControlPlaneTrust.FromRoots(controlPlane.Ca.Roots) : null;
            if (firstStart)
            {
                await MeshMtlsDefault.WriteAsync(controlPlane.Store, parse.GetValue(meshMtls), ct);
            }

            // The gateway in this process is a proxy like any other to the control plane: a proxy token of its own, in memory only.
            var gatewayCredential = new Trellis.Api.Access.BearerCredential(controlPlane.Tokens.CreateProcessToken(GatewayName, Trellis.Api.Access.ApiRole.Proxy));
            var restored = UpState.Restored(controlPlane.Store.Snapshot, startedAt);

            // The agent and the gateway join the CA with the token the control plane made in its data directory.
            var joinToken = Trellis.ControlPlane.Ca.JoinToken.Read(controlPlane.Ca.JoinToken.Path!);
            await using var gateway = new ProxyServer(new ProxyServerOptions { NodeName = GatewayName }, loggers);
            await using var gatewayCertificates = GatewayCertificates.Start([controlPlane.ApiUrl], GatewayName, joinToken, gateway, log, trust);
            ProxySnapshot? lastRejected = null;
            async Task<SnapshotApplyResult> ApplyToGateway(ProxySnapshot snapshot, CancellationToken token)
            {
                var result = await gateway.ApplyAsync(snapshot, token);
                Volatile.Write(ref lastRejected, result.Accepted ? null : snapshot);
                if (result.Accepted)
                {
                    gatewayCertificates.Follow(snapshot);
                }

                return result;
            }

            await using var gatewayAdmin = await GatewayRole.StartAdminAsync(gateway, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0), ct);
            await using var gatewayPush = new PushClient(controlPlane.PushUrl, GatewayRole.Hello(GatewayName, GatewayRole.DefaultLabels, gatewayAdmin.Url), ApplyToGateway, loggers.CreateLogger<PushClient>(), gatewayCredential, trust);
            gatewayPush.Start();
            await using var gatewayDemand = new ServingReporter(gateway, controlPlane.ApiUrl, reportLoad: false, log, GatewayName, credential: gatewayCredential, trust: trust);
            await using var agent = await AgentHost.StartAsync(new AgentOptions
            {
                Node = "local",
                ControlPlane = controlPlane.ApiUrl,
                Push = controlPlane.PushUrl,
                DataDirectory = Path.Combine(data, "agent"),
                PoolSize = parse.GetValue(poolSize),
                JoinToken = joinToken,
                Trust = trust,
            }, loggers, ct);

            Console.WriteLine($"Trellis is up. API {controlPlane.ApiUrl}, broker ingress {controlPlane.BrokerIngressUrl} (data in {data})");
            if (restored.Count > 0)
            {
                Console.WriteLine(UpState.Describe(restored, parse.GetValue(dataDir)!));
            }

            // up's own client (applying the files, readiness, Prometheus targets) acts as admin: with static tokens only, it uses none.
            using var client = new ControlPlaneClient(controlPlane.ApiUrl, adminToken ?? controlPlane.Tokens.CreateProcessToken("up", Trellis.Api.Access.ApiRole.Admin), trust);
            await using var prometheusRunner = prometheusEndpoint is null ? null
                : await StartPrometheusAsync(data, prometheusEndpoint, TimeSpan.FromSeconds(parse.GetValue(scrapeInterval)), client, controlPlane.ApiUrl, ct);
            if (prometheusEndpoint is not null && prometheusRunner is null)
            {
                return ExitCodes.CannotListen;
            }

            var (applied, objects) = await ApplyAsync(client, parse.GetValue(paths) ?? [], keepEdits: restored.Count > 0, ct);

            // Before anything else: a gateway listener that cannot bind must not look like success (nginx and Envoy
            // exit in that case too), so no hints and no "Press Ctrl-C" then.
            if (await CheckGatewayAsync(client, controlPlane, () => Volatile.Read(ref lastRejected), log, ct) is { } failed)
            {
                return failed;
            }

            // The hints name what answers: give what was applied (pods starting, a first revision) a while to be ready.
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var ready = ApplyWait.ReadyAsync(client, objects, TimeSpan.FromSeconds(60), stopping.Token);
            if (await Task.WhenAny(ready, shutdown) != ready)
            {
                await stopping.CancelAsync();
                await ready.ContinueWith(static _ => { }, TaskScheduler.Default); // cancelled: nothing to report
                Console.WriteLine("Stopping workloads...");
                return ExitCodes.Ok;
            }

            foreach (var (o, r) in await ready)
            {
                Console.WriteLine($"not ready: {o}: {r.Reason}");
            }

            if (objects.Count > 0 && await CheckGatewayAsync(client, controlPlane, () => Volatile.Read(ref lastRejected), log, ct) is { } late)
            {
                return late;
            }

            // Where Prometheus scrapes Istio's standard metrics (Envoy's /stats/prometheus on each proxy).
            Console.WriteLine($"Proxy metrics: {new Uri(agent.AdminUrl, Trellis.Proxy.Admin.MetricsEndpoint.Path)} (node proxy), "
                + $"{new Uri(gatewayAdmin.Url, Trellis.Proxy.Admin.MetricsEndpoint.Path)} (gateway)");
            if (prometheusRunner is not null)
            {
                Console.WriteLine($"Prometheus: {prometheusRunner.Url} (scraping the proxies listed in {prometheusRunner.TargetsFile}; data in {prometheusRunner.Directory})");
            }

            PrintHints(gateway);
            if (!applied)
            {
                log.LogWarning("Some files were rejected; see the errors above.");
            }

            await Task.WhenAny(shutdown, Task.Delay(Timeout.Infinite, ct));
            Console.WriteLine("Stopping workloads...");
            return ExitCodes.Ok;
        });
        return command;
    }

    private const string GatewayName = "gateway/ingress";

    /// <summary>Prometheus for <c>--prometheus</c>; null, with the reason printed, when it cannot start (its port is taken).</summary>
    private static async Task<Prometheus.PrometheusRunner?> StartPrometheusAsync(
        string data, System.Net.IPEndPoint listen, TimeSpan interval, ControlPlaneClient client, Uri apiUrl, CancellationToken ct)
    {
        try
        {
            return await Prometheus.PrometheusRunner.StartAsync(data, listen, interval, client, apiUrl, ct);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            Console.Error.WriteLine($"error: --prometheus: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// Waits until the gateway answered the configuration of the store as it is now. A listener it could not bind
    /// is reported plainly (which listener, which address, why) and ends <c>up</c> with <see cref="ExitCodes.CannotListen"/>;
    /// another rejection is reported and <c>up</c> goes on (the gateway keeps its last good configuration).
    /// </summary>
    private static async Task<int?> CheckGatewayAsync(ControlPlaneClient client, ControlPlaneHost controlPlane, Func<ProxySnapshot?> lastRejected, ILogger log, CancellationToken ct)
    {
        var answers = await ProxySync.WaitAsync(client, controlPlane.Store.Snapshot.Revision, n => n == GatewayName, TimeSpan.FromSeconds(10), ct, atLeast: 1);
        var answer = answers.Count > 0 ? answers[0] : null;
        if (answer is { Answered: true, Accepted: false } nack)
        {
            if (lastRejected() is { } rejected && ListenFailures.Gateway(nack.Errors, rejected, controlPlane.Store.Snapshot) is { } cannotListen)
            {
                foreach (var line in cannotListen)
                {
                    Console.Error.WriteLine("error: " + line);
                }

                Console.Error.WriteLine("Free the port or change the Gateway's port (`trellis up --fresh` starts without stored Gateways). Stopping.");
                return ExitCodes.CannotListen;
            }

            Console.Error.WriteLine($"error: the ingress gateway rejected its configuration: {string.Join("; ", nack.Errors)}");
        }
        else if (answer is not { Answered: true })
        {
            log.LogWarning("The ingress gateway has not taken its configuration yet; trellis get proxies shows its state.");
        }

        return null;
    }

    private static void PrintHints(ProxyServer gateway)
    {
        var hints = GatewayHints.For(gateway.Current);
        if (hints.Count == 0)
        {
            Console.WriteLine("The ingress gateway has no listener yet: apply a Gateway (samples/bookinfo/gateway.yaml, samples/functions/gateway.yaml).");
        }
        else
        {
            Console.WriteLine("The ingress gateway serves (try):");
            foreach (var hint in hints)
            {
                Console.WriteLine("  " + hint);
            }
        }

        Console.WriteLine("Then: trellis get all    trellis get proxies    trellis describe ksvc NAME");
        Console.WriteLine("Press Ctrl-C (or send SIGTERM) to stop.");
    }

    /// <summary>
    /// Applies the given files like <c>trellis apply -f</c>. With <paramref name="keepEdits"/> (state was restored),
    /// a file that would change a stored object is not applied: the stored object may be the user's edit of the
    /// sample, and silently re-applying the file would undo it (and, for a Knative Service, cut a revision).
    /// </summary>
    private static async Task<(bool Ok, List<AppliedObject> Applied)> ApplyAsync(ControlPlaneClient client, string[] paths, bool keepEdits, CancellationToken ct)
    {
        var ok = true;
        var objects = new List<AppliedObject>();
        foreach (var (source, text) in await Common.ReadInputsAsync(paths))
        {
            var query = $"/apply?source={Uri.EscapeDataString(source)}";
            if (keepEdits)
            {
                var preview = await client.SendAsync(HttpMethod.Post, query + "&dryRun=true", text, ct);
                var changed = (preview.Json?["results"] as JsonArray ?? [])
                    .Where(r => Columns.Str(r?["change"]) == "configured")
                    .Select(r => $"{Columns.Str(r?["kind"])} {Columns.Str(r?["namespace"])}/{Columns.Str(r?["name"])}")
                    .ToList();
                if (preview.Ok && changed.Count > 0)
                {
                    Console.WriteLine($"kept the stored {string.Join(", ", changed)}: not re-applying {source}, which differs (`trellis apply -f {source}` uses the file)");
                    continue;
                }
            }

            var response = await client.SendAsync(HttpMethod.Post, query, text, ct);
            if (!response.Ok)
            {
                ok = false;
                Console.Error.WriteLine($"error: {source}: {response.Message}");
                DiagnosticsPrinter.Print(response.Json, Console.Error, text);
            }
            else
            {
                objects.AddRange(AppliedObject.FromResults(response.Json));
                var changes = (response.Json?["results"] as JsonArray ?? []).GroupBy(r => Columns.Str(r?["change"])).Select(g => $"{g.Count()} {g.Key}");
                Console.WriteLine($"applied {source} ({string.Join(", ", changes)})");
            }
        }

        return (ok, objects);
    }
}

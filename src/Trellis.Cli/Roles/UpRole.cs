using System.CommandLine;
using Microsoft.Extensions.Logging;
using Trellis.Agent;
using Trellis.Api.Snapshots;
using Trellis.Cli.Client;
using Trellis.Cli.Verbs;
using Trellis.ControlPlane;
using Trellis.Proxy;
using Trellis.Proxy.Discovery;

namespace Trellis.Cli.Roles;

/// <summary>
/// <c>trellis up [PATH...]</c>: the embedded mode. Control plane, ingress gateway and the local agent
/// (with its node proxy) in this one process; then the given files are applied through the API like
/// <c>trellis apply -f</c>. Ctrl-C stops the workloads gracefully, then everything else.
/// </summary>
public static class UpRole
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("path") { Description = "Files or directories to apply once started (e.g. samples/bookinfo)", Arity = ArgumentArity.ZeroOrMore };
        var dataDir = RoleOptions.DataDir();
        var api = new Option<string>("--api-address") { Description = "Control plane API address", DefaultValueFactory = _ => "127.0.0.1:15000" };
        var push = new Option<string>("--push-address") { Description = "Control plane push address", DefaultValueFactory = _ => "127.0.0.1:15010" };
        var logLevel = RoleOptions.LogLevel();
        var gatewayAddresses = GatewayAddressOptions.GatewayAddresses();
        var poolSize = RoleOptions.PoolSize();
        var broker = EventingRoleOptions.BrokerAddress();
        var eventingGateway = EventingRoleOptions.EventingGateway();
        var command = new Command("up", "Run Trellis on this machine: control plane, gateway, agent and proxies in one process") { paths, dataDir, api, push, logLevel, poolSize, gatewayAddresses, broker, eventingGateway };
        command.SetAction(async (parse, ct) =>
        {
            using var loggers = RoleOptions.Loggers(parse.GetValue(logLevel)!);
            var log = loggers.CreateLogger("trellis");
            var shutdown = RoleOptions.ShutdownRequested();
            var data = Path.GetFullPath(parse.GetValue(dataDir)!);
            await using var controlPlane = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
            {
                DataDirectory = Path.Combine(data, "controlplane"),
                ApiEndpoint = RoleOptions.Endpoint(parse.GetValue(api)!, "--api-address"),
                PushEndpoint = RoleOptions.Endpoint(parse.GetValue(push)!, "--push-address"),
                GatewayAddresses = GatewayAddressOptions.AddressPool(parse.GetValue(gatewayAddresses)!),
                Eventing = EventingRoleOptions.Eventing(parse.GetValue(broker)!, parse.GetValue(eventingGateway)!),
            }, loggers, cancellationToken: ct);

            await using var gateway = new ProxyServer(new ProxyServerOptions { NodeName = "gateway/ingress" }, loggers);
            await using var gatewayAdmin = await GatewayRole.StartAdminAsync(gateway, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0), ct);
            await using var gatewayPush = new PushClient(controlPlane.PushUrl, GatewayRole.Hello("gateway/ingress", GatewayRole.DefaultLabels, gatewayAdmin.Url), gateway.ApplyAsync, loggers.CreateLogger<PushClient>());
            gatewayPush.Start();
            await using var gatewayDemand = new ServingReporter(gateway, controlPlane.ApiUrl, reportLoad: false, log, "gateway/ingress");
            await using var agent = await AgentHost.StartAsync(new AgentOptions
            {
                Node = "local",
                ControlPlane = controlPlane.ApiUrl,
                Push = controlPlane.PushUrl,
                DataDirectory = Path.Combine(data, "agent"),
                PoolSize = parse.GetValue(poolSize),
            }, loggers, ct);

            Console.WriteLine($"Trellis is up. API {controlPlane.ApiUrl}, broker ingress {controlPlane.BrokerIngressUrl} (data in {data})");
            var applied = await ApplyAsync(controlPlane.ApiUrl, parse.GetValue(paths) ?? [], ct);
            await WaitForGatewayAsync(gateway, TimeSpan.FromSeconds(3));
            foreach (var endpoint in gateway.BoundEndpoints)
            {
                Console.WriteLine($"Ingress gateway listening on http://localhost:{endpoint.Port}/");
            }

            // Where Prometheus scrapes Istio's standard metrics (Envoy's /stats/prometheus on each proxy).
            Console.WriteLine($"Proxy metrics: {new Uri(agent.AdminUrl, Trellis.Proxy.Admin.MetricsEndpoint.Path)} (node proxy), "
                + $"{new Uri(gatewayAdmin.Url, Trellis.Proxy.Admin.MetricsEndpoint.Path)} (gateway)");
            Console.WriteLine("Try: curl http://localhost:8080/productpage    trellis get pods    trellis get vs");
            Console.WriteLine("Press Ctrl-C to stop.");
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

    private static async Task<bool> ApplyAsync(Uri api, string[] paths, CancellationToken ct)
    {
        using var client = new ControlPlaneClient(api);
        var ok = true;
        foreach (var (source, text) in await Common.ReadInputsAsync(paths))
        {
            var response = await client.SendAsync(HttpMethod.Post, $"/apply?source={Uri.EscapeDataString(source)}", text, ct);
            if (!response.Ok)
            {
                ok = false;
                Console.Error.WriteLine($"error: {source}: {response.Message}");
                DiagnosticsPrinter.Print(response.Json, Console.Error, text);
            }
            else
            {
                Console.WriteLine($"applied {source}");
            }
        }

        return ok;
    }

    private static async Task WaitForGatewayAsync(ProxyServer gateway, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (gateway.BoundEndpoints.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }
}

using System.CommandLine;
using Trellis.Agent;
using Trellis.ControlPlane;

namespace Trellis.Cli.Roles;

/// <summary><c>trellis controlplane</c> and <c>trellis agent</c>: the distributed mode's two long-running roles.</summary>
public static class ServerRoles
{
    public static Command ControlPlane()
    {
        var dataDir = RoleOptions.DataDir();
        var api = new Option<string>("--api-address") { DefaultValueFactory = _ => "127.0.0.1:15000", Description = "API address (loopback until authentication exists)" };
        var push = new Option<string>("--push-address") { DefaultValueFactory = _ => "127.0.0.1:15010", Description = "Push address (HTTP/2)" };
        var logLevel = RoleOptions.LogLevel();
        var gatewayAddresses = GatewayAddressOptions.GatewayAddresses();
        var command = new Command("controlplane", "Run the control plane: API, store, registry, config push") { dataDir, api, push, logLevel, gatewayAddresses };
        command.SetAction(async (parse, ct) =>
        {
            using var loggers = RoleOptions.Loggers(parse.GetValue(logLevel)!);
            var shutdown = RoleOptions.ShutdownRequested();
            await using var host = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
            {
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                ApiEndpoint = RoleOptions.Endpoint(parse.GetValue(api)!, "--api-address"),
                PushEndpoint = RoleOptions.Endpoint(parse.GetValue(push)!, "--push-address"),
                GatewayAddresses = GatewayAddressOptions.AddressPool(parse.GetValue(gatewayAddresses)!),
            }, loggers, cancellationToken: ct);
            Console.WriteLine($"Control plane API {host.ApiUrl}, push {host.PushUrl}");
            await Task.WhenAny(shutdown, Task.Delay(Timeout.Infinite, ct));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Agent()
    {
        var dataDir = RoleOptions.DataDir();
        var node = new Option<string>("--node") { DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant(), Description = "This host's node name" };
        var push = RoleOptions.Push();
        var logLevel = RoleOptions.LogLevel();
        var poolSize = RoleOptions.PoolSize();
        var command = new Command("agent", "Run the node agent: workloads as processes, their proxies, registration") { dataDir, node, push, logLevel, poolSize };
        command.SetAction(async (parse, ct) =>
        {
            using var loggers = RoleOptions.Loggers(parse.GetValue(logLevel)!);
            var shutdown = RoleOptions.ShutdownRequested();
            await using var agent = await AgentHost.StartAsync(new AgentOptions
            {
                Node = parse.GetValue(node)!,
                ControlPlane = new Uri(parse.GetValue(Verbs.Common.Server)!),
                Push = new Uri(parse.GetValue(push)!),
                DataDirectory = Path.GetFullPath(Path.Combine(parse.GetValue(dataDir)!, "agent")),
                PoolSize = parse.GetValue(poolSize),
            }, loggers, ct);
            Console.WriteLine($"Agent {parse.GetValue(node)} running");
            await Task.WhenAny(shutdown, Task.Delay(Timeout.Infinite, ct));
            return ExitCodes.Ok;
        });
        return command;
    }
}

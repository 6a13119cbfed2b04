using System.CommandLine;
using System.Text.Json.Nodes;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>logs NAME [-f]</c>: NAME is a pod, or a deployment (its first pod, as <c>kubectl logs deploy/NAME</c>).
/// <c>logs --proxy NAME</c>: the access log of the proxy of deployment (or gateway) NAME, as <c>kubectl logs POD -c
/// istio-proxy</c> shows an Envoy sidecar's: the lines its proxies wrote for it (docs/telemetry.md).
/// </summary>
public static class LogsVerb
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "Pod or deployment name (deploy/NAME also accepted)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming new lines" };
        var ns = Common.Namespace();
        var proxy = new Option<bool>("--proxy") { Description = "The access log of the workload's proxy (NAME: a deployment or a gateway proxy), not the workload's own output" };
        var command = new Command("logs", "Print the logs of a workload instance, or with --proxy the access log of its proxy") { name, follow, ns, proxy };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var target = parse.GetValue(name)!;
            target = target.StartsWith("deploy/", StringComparison.Ordinal) ? target["deploy/".Length..]
                : target.StartsWith("pod/", StringComparison.Ordinal) ? target["pod/".Length..] : target;
            var namespaceName = parse.GetValue(ns)!;
            if (parse.GetValue(proxy))
            {
                await PrintAsync(client, $"/debug/proxy-logs?workload={Uri.EscapeDataString(target)}&namespace={Uri.EscapeDataString(namespaceName)}{(parse.GetValue(follow) ? "&follow=true" : "")}", ct);
                return ExitCodes.Ok;
            }

            var pods = await client.SendAsync(HttpMethod.Get, $"/api/v1/namespaces/{namespaceName}/pods", null, ct);
            var items = (pods.Json?["items"] as JsonArray ?? []).Where(p => p is not null).Select(p => p!).ToList();
            var pod = items.FirstOrDefault(p => Columns.Str(p["metadata"]?["name"]) == target)
                ?? items.FirstOrDefault(p => p["metadata"]?["ownerReferences"]?[0]?["name"]?.GetValue<string>() == target);
            if (pod is null)
            {
                throw new ApiException(System.Net.HttpStatusCode.NotFound, $"no pod or deployment named \"{target}\" in namespace {namespaceName}");
            }

            var path = $"/api/v1/namespaces/{namespaceName}/pods/{Columns.Str(pod["metadata"]?["name"])}/log{(parse.GetValue(follow) ? "?follow=true" : "")}";
            await PrintAsync(client, path, ct);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task PrintAsync(ControlPlaneClient client, string path, CancellationToken ct)
    {
        try
        {
            await foreach (var line in client.StreamLinesAsync(path, ct))
            {
                Console.WriteLine(line);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

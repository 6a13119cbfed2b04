using System.CommandLine;
using System.Text.Json.Nodes;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary><c>logs NAME [-f]</c>: NAME is a pod, or a deployment (its first pod, as <c>kubectl logs deploy/NAME</c>).</summary>
public static class LogsVerb
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "Pod or deployment name (deploy/NAME also accepted)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming new lines" };
        var ns = Common.Namespace();
        var command = new Command("logs", "Print the logs of a workload instance") { name, follow, ns };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var target = parse.GetValue(name)!;
            target = target.StartsWith("deploy/", StringComparison.Ordinal) ? target["deploy/".Length..]
                : target.StartsWith("pod/", StringComparison.Ordinal) ? target["pod/".Length..] : target;
            var namespaceName = parse.GetValue(ns)!;
            var pods = await client.SendAsync(HttpMethod.Get, $"/api/v1/namespaces/{namespaceName}/pods", null, ct);
            var items = (pods.Json?["items"] as JsonArray ?? []).Where(p => p is not null).Select(p => p!).ToList();
            var pod = items.FirstOrDefault(p => Columns.Str(p["metadata"]?["name"]) == target)
                ?? items.FirstOrDefault(p => p["metadata"]?["ownerReferences"]?[0]?["name"]?.GetValue<string>() == target);
            if (pod is null)
            {
                throw new ApiException(System.Net.HttpStatusCode.NotFound, $"no pod or deployment named \"{target}\" in namespace {namespaceName}");
            }

            var path = $"/api/v1/namespaces/{namespaceName}/pods/{Columns.Str(pod["metadata"]?["name"])}/log{(parse.GetValue(follow) ? "?follow=true" : "")}";
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

            return ExitCodes.Ok;
        }));
        return command;
    }
}

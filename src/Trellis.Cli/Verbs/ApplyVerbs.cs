using System.CommandLine;
using System.Text.Json.Nodes;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary><c>apply -f</c>, <c>delete -f</c> / <c>delete KIND NAME</c>, <c>analyze -f</c>. Each file is one atomic request.</summary>
public static class ApplyVerbs
{
    public static Command Apply()
    {
        var files = Common.Files("File, directory or - (stdin) with YAML/JSON resources; repeatable");
        var dryRun = new Option<bool>("--dry-run") { Description = "Validate and show what would change, write nothing" };
        var wait = new Option<bool>("--wait") { Description = "Return once the applied resources are ready and every proxy runs the new configuration" };
        var timeout = new Option<string>("--timeout") { Description = "With --wait: how long to wait (30s, 2m)", DefaultValueFactory = _ => "60s" };
        var command = new Command("apply", "Create or update resources from files") { files, dryRun, wait, timeout };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            if (ApplyWait.ParseTimeout(parse.GetValue(timeout)!) is not { } limit)
            {
                throw new InputException($"--timeout {parse.GetValue(timeout)}: expected a duration such as 30s or 2m");
            }

            var failed = false;
            var applied = new List<AppliedObject>();
            foreach (var (source, text) in await Common.ReadInputsAsync(parse.GetValue(files)!))
            {
                var query = $"/apply?source={Uri.EscapeDataString(source)}{(parse.GetValue(dryRun) ? "&dryRun=true" : "")}";
                var response = await client.SendAsync(HttpMethod.Post, query, text, ct);
                failed |= !Report(response, parse.GetValue(dryRun) ? " (dry run)" : "", text);
                applied.AddRange(AppliedObject.FromResults(response.Json));
            }

            if (failed)
            {
                return ExitCodes.Rejected;
            }

            return parse.GetValue(wait) && !parse.GetValue(dryRun) ? await ApplyWait.WaitAsync(client, applied, limit, ct) : ExitCodes.Ok;
        }));
        return command;
    }

    public static Command Delete()
    {
        var files = new Option<string[]>("--filename", "-f") { Description = "Delete the resources named in these files" };
        var kind = new Argument<string?>("kind") { Arity = ArgumentArity.ZeroOrOne };
        var name = new Argument<string?>("name") { Arity = ArgumentArity.ZeroOrOne };
        var ns = Common.Namespace();
        var command = new Command("delete", "Delete resources by file or by kind and name") { files, kind, name, ns };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var paths = parse.GetValue(files) ?? [];
            if (paths.Length > 0)
            {
                var failed = false;
                foreach (var (source, text) in await Common.ReadInputsAsync(paths))
                {
                    failed |= !Report(await client.SendAsync(HttpMethod.Post, $"/delete?source={Uri.EscapeDataString(source)}", text, ct), "");
                }

                return failed ? ExitCodes.Rejected : ExitCodes.Ok;
            }

            if (parse.GetValue(kind) is not { } k || parse.GetValue(name) is not { } n)
            {
                throw new InputException("delete needs -f FILE or KIND NAME");
            }

            var info = Kinds.Resolve(k);
            var response = await client.SendAsync(HttpMethod.Delete, Kinds.Path(info, parse.GetValue(ns)!, n), null, ct);
            return Report(response, "") ? ExitCodes.Ok : ExitCodes.Rejected;
        }));
        return command;
    }

    public static Command Analyze()
    {
        var files = Common.Files("Files or directories to analyze together with what the control plane holds");
        var command = new Command("analyze", "Validate files and report coded diagnostics without applying them") { files };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var errors = 0;
            var total = 0;
            foreach (var (source, text) in await Common.ReadInputsAsync(parse.GetValue(files)!))
            {
                var response = await client.SendAsync(HttpMethod.Post, $"/analyze?source={Uri.EscapeDataString(source)}", text, ct);
                if (!response.Ok)
                {
                    throw new ApiException(response.Status, response.Message);
                }

                errors += DiagnosticsPrinter.Print(response.Json, Console.Out, text);
                total += (response.Json?["diagnostics"] as JsonArray)?.Count ?? 0;
            }

            if (total == 0)
            {
                Console.WriteLine("✔ No validation issues found when analyzing the given files.");
            }

            return errors > 0 ? ExitCodes.Rejected : ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>Prints kubectl-style result lines (<c>virtualservice.networking.istio.io/reviews configured</c>) or the errors.</summary>
    private static bool Report(ApiResponse response, string suffix, string? text = null)
    {
        if (!response.Ok)
        {
            Console.Error.WriteLine($"error: {response.Message}");
            DiagnosticsPrinter.Print(response.Json, Console.Error, text);
            return false;
        }

        foreach (var r in response.Json?["results"] as JsonArray ?? [])
        {
            var group = Columns.Str(r?["group"]);
            var kind = Columns.Str(r?["kind"]).ToLowerInvariant();
            var change = Columns.Str(r?["change"]) == "notfound" ? "not found" : Columns.Str(r?["change"]);
            Console.WriteLine($"{kind}{(group.Length > 0 ? "." + group : "")}/{Columns.Str(r?["name"])} {change}{suffix}");
        }

        DiagnosticsPrinter.Print(response.Json, Console.Error);
        return true;
    }
}

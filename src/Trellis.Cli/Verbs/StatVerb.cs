using System.CommandLine;
using System.Text;
using System.Text.Json;
using Trellis.Api.LiveViews;
using Trellis.Api.Snapshots;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>stat deploy|svc|ksvc [NAME] [--window 30s]</c> and <c>edges deploy|po|svc|ksvc</c>: Linkerd viz's views of the traffic the
/// proxies saw in the last window (success rate, requests per second, latency percentiles, mTLS share; who called whom),
/// computed by the control plane from the proxies' own counts (docs/telemetry.md), so they work without Prometheus.
/// </summary>
public static class StatVerb
{
    public static Command Stat()
    {
        var kind = new Argument<string>("kind") { Description = "deploy, svc or ksvc" };
        var name = new Argument<string?>("name") { Description = "One object of the kind (all without it)", Arity = ArgumentArity.ZeroOrOne };
        var (ns, all, window, output) = Options();
        var command = new Command("stat", "Success rate, requests per second, latency percentiles and mTLS share of deployments, services or Knative Services over a window")
        {
            kind, name, ns, all, window, output,
        };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var format = ViewFormat.Output(parse.GetValue(output));
            var path = new StringBuilder("/debug/stat?kind=").Append(Uri.EscapeDataString(parse.GetValue(kind)!))
                .Append("&window=").Append(Uri.EscapeDataString(parse.GetValue(window)!));
            if (!parse.GetValue(all))
            {
                path.Append("&namespace=").Append(Uri.EscapeDataString(parse.GetValue(ns)!));
            }

            if (parse.GetValue(name) is { Length: > 0 } one)
            {
                path.Append("&name=").Append(Uri.EscapeDataString(one));
            }

            var json = ViewFormat.Json(await client.SendAsync(HttpMethod.Get, path.ToString(), null, ct));
            if (format == "json")
            {
                Console.WriteLine(json.ToJsonString(ViewFormat.Indented));
                return ExitCodes.Ok;
            }

            var report = json.Deserialize(WireJsonContext.Default.StatReport)!;
            Console.Write(Table.Render(
                ["NAMESPACE", "NAME", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "MTLS"],
                report.Rows.Select(r => (IReadOnlyList<string>)
                [
                    r.Namespace, r.Name, ViewFormat.Percent(r.SuccessRate), ViewFormat.Rate(r.RequestsPerSecond, r.Requests),
                    ViewFormat.Millis(r.LatencyP50Ms), ViewFormat.Millis(r.LatencyP95Ms), ViewFormat.Millis(r.LatencyP99Ms), ViewFormat.Percent(r.MutualTlsShare),
                ])));
            Warn(report.Errors);
            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command Edges()
    {
        var kind = new Argument<string>("kind") { Description = "deploy, po, svc or ksvc" };
        var (ns, all, window, output) = Options();
        var command = new Command("edges", "Who called whom in the window, with the identities mTLS proved") { kind, ns, all, window, output };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var format = ViewFormat.Output(parse.GetValue(output));
            var path = new StringBuilder("/debug/edges?kind=").Append(Uri.EscapeDataString(parse.GetValue(kind)!))
                .Append("&window=").Append(Uri.EscapeDataString(parse.GetValue(window)!));
            if (!parse.GetValue(all))
            {
                path.Append("&namespace=").Append(Uri.EscapeDataString(parse.GetValue(ns)!));
            }

            var json = ViewFormat.Json(await client.SendAsync(HttpMethod.Get, path.ToString(), null, ct));
            if (format == "json")
            {
                Console.WriteLine(json.ToJsonString(ViewFormat.Indented));
                return ExitCodes.Ok;
            }

            var report = json.Deserialize(WireJsonContext.Default.EdgesReport)!;
            Console.Write(Table.Render(
                ["SRC", "DST", "SRC_NS", "DST_NS", "SECURED", "RPS", "CLIENT_ID", "SERVER_ID"],
                report.Edges.Select(e => (IReadOnlyList<string>)
                [
                    e.Source, e.Destination, e.SourceNamespace, e.DestinationNamespace, e.Secured ? "√" : "×",
                    ViewFormat.Rate(e.RequestsPerSecond, e.Requests), e.SourcePrincipal, e.DestinationPrincipal,
                ])));
            Warn(report.Errors);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static (Option<string> Namespace, Option<bool> All, Option<string> Window, Option<string> Output) Options() => (
        Common.Namespace(),
        new Option<bool>("--all-namespaces", "-A") { Description = "Every namespace" },
        new Option<string>("--window", "-t") { Description = $"How far back to look, e.g. 10s or 1m (at most {LiveWindow.MaxSeconds}s)", DefaultValueFactory = _ => "1m" },
        new Option<string>("--output", "-o") { Description = "text (default) or json" });

    /// <summary>Proxies that did not answer: their counts are missing from the figures above.</summary>
    private static void Warn(IReadOnlyList<string> errors)
    {
        foreach (var error in errors)
        {
            Console.Error.WriteLine($"warning: no counts from proxy {error}");
        }
    }
}

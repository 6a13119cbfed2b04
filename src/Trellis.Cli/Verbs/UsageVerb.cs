using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Api.Metering;
using Trellis.Api.Snapshots;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>usage [SERVICE]</c>: what the control plane has metered per revision (invocations, durations,
/// CPU-seconds, peak memory, cold starts) and, with <c>--instances</c>, per running instance.
/// Percentiles are estimated from the histograms as Prometheus's <c>histogram_quantile</c> does.
/// </summary>
public static class UsageVerb
{
    public static Command Create()
    {
        var service = new Argument<string?>("service") { Description = "Knative Service (default: all in the namespace)", Arity = ArgumentArity.ZeroOrOne };
        var ns = Common.Namespace();
        var instances = new Option<bool>("--instances") { Description = "Also list each running instance" };
        var output = new Option<string>("--output", "-o") { Description = "table (default), json, yaml" };
        var command = new Command("usage", "Metered usage of Knative revisions: invocations, duration, CPU, memory, cold starts") { service, ns, instances, output };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var format = parse.GetValue(output) ?? "table";
            if (format is not ("table" or "json" or "yaml"))
            {
                throw new InputException($"--output {format}: expected table, json or yaml");
            }

            var path = $"/serving/v1/usage?namespace={Uri.EscapeDataString(parse.GetValue(ns)!)}";
            if (parse.GetValue(service) is { Length: > 0 } name)
            {
                path += "&service=" + Uri.EscapeDataString(name);
            }

            var response = await client.SendAsync(HttpMethod.Get, path, null, ct);
            if (!response.Ok)
            {
                throw new ApiException(response.Status, response.Message);
            }

            switch (format)
            {
                case "json":
                    Console.WriteLine(response.Json?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? response.Text);
                    return ExitCodes.Ok;
                case "yaml":
                    Console.Write(JsonYaml.Write(response.Json ?? new JsonObject()));
                    return ExitCodes.Ok;
            }

            var view = JsonSerializer.Deserialize<UsageView>(response.Text, WireJson.Options) ?? new UsageView([]);
            if (view.Revisions.Count == 0)
            {
                await Console.Error.WriteLineAsync($"No usage metered in namespace {parse.GetValue(ns)} yet.");
                return ExitCodes.Ok;
            }

            Console.Write(RenderRevisions(view));
            if (parse.GetValue(instances))
            {
                Console.WriteLine();
                Console.Write(RenderInstances(view));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    public static string RenderRevisions(UsageView view) => Table.Render(
        ["REVISION", "SERVICE", "INVOCATIONS", "AVG DURATION", "P99 DURATION", "CPU-S", "PEAK MEM", "COLD STARTS", "COLD P50"],
        view.Revisions.Select(r => (IReadOnlyList<string>)
        [
            r.Revision, r.Service, Count(r.Requests), Average(r.Durations), Percentile(r.Durations, 0.99, HistogramBuckets.RequestDurationSeconds),
            Cpu(r.CpuSeconds), Memory(r.MemoryPeakBytes), Count(r.ColdStarts.Count), Percentile(r.ColdStarts, 0.5, HistogramBuckets.ColdStartSeconds),
        ]));

    public static string RenderInstances(UsageView view) => Table.Render(
        ["INSTANCE", "REVISION", "INVOCATIONS", "AVG DURATION", "P99 DURATION", "CPU-S", "PEAK MEM"],
        view.Revisions.SelectMany(r => r.Instances).Select(i => (IReadOnlyList<string>)
        [
            i.Instance, i.Revision, Count(i.Requests), Average(i.Durations), Percentile(i.Durations, 0.99, HistogramBuckets.RequestDurationSeconds),
            Cpu(i.CpuSeconds), Memory(i.MemoryPeakBytes),
        ]));

    private static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Average(HistogramCounts h) => h.Count == 0 ? "-" : Duration(h.SumSeconds / h.Count);

    private static string Percentile(HistogramCounts h, double q, IReadOnlyList<double> bounds) =>
        h.Quantile(q, bounds) is { } seconds ? Duration(seconds) : "-";

    /// <summary>1.2ms, 350ms, 2.5s: three significant figures at most.</summary>
    public static string Duration(double seconds) => seconds switch
    {
        < 0.01 => (seconds * 1000).ToString("0.##", CultureInfo.InvariantCulture) + "ms",
        < 1 => (seconds * 1000).ToString("0", CultureInfo.InvariantCulture) + "ms",
        _ => seconds.ToString("0.##", CultureInfo.InvariantCulture) + "s",
    };

    private static string Cpu(double seconds) => seconds.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>In Mi, as <c>kubectl top</c> shows memory.</summary>
    public static string Memory(long bytes) => bytes == 0 ? "-" : Math.Ceiling(bytes / (1024.0 * 1024)).ToString("0", CultureInfo.InvariantCulture) + "Mi";
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Trellis.Api.LiveViews;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>top WORKLOAD</c>: the busiest paths to and from a workload, live, refreshed in the terminal (Linkerd's top: a
/// tap aggregated by source, destination, method and path). With <c>--duration</c>, or when the output is not a
/// terminal, it watches for that long (default 10s) and prints the table (or <c>-o json</c>) once.
/// </summary>
public static class TopVerb
{
    private static readonly TimeSpan DefaultOnce = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var workload = new Argument<string>("workload") { Description = "A deployment (deploy/NAME also accepted) or a gateway proxy (ingress)" };
        var (ns, path, method, duration) = TapVerb.Options();
        var output = new Option<string>("--output", "-o") { Description = "text (default) or json; json implies a single print" };
        var command = new Command("top", "The busiest paths to and from a workload, live") { workload, ns, path, method, duration, output };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var format = ViewFormat.Output(parse.GetValue(output));
            var once = format == "json" || parse.GetValue(duration) is { Length: > 0 } || Console.IsOutputRedirected;
            var table = new TopTable();
            if (once)
            {
                var effective = parse.GetValue(duration) is { Length: > 0 } ? duration : null;
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (effective is null)
                {
                    limit.CancelAfter(DefaultOnce);
                }

                await foreach (var (_, tap) in TapVerb.StreamAsync(client, parse, workload, ns, path, method, duration, limit.Token))
                {
                    table.Add(tap);
                }

                Console.Write(format == "json" ? table.Json().ToJsonString(ViewFormat.Indented) + "\n" : table.Text());
                return ExitCodes.Ok;
            }

            var live = new Spectre.Console.Table().AddColumns("SOURCE", "DESTINATION", "METHOD", "PATH", "COUNT", "BEST", "WORST", "LAST", "SUCCESS RATE");
            await AnsiConsole.Live(live).StartAsync(async context =>
            {
                var feed = Task.Run(async () =>
                {
                    await foreach (var (_, tap) in TapVerb.StreamAsync(client, parse, workload, ns, path, method, duration, ct))
                    {
                        lock (table)
                        {
                            table.Add(tap);
                        }
                    }
                }, ct);
                while (!feed.IsCompleted)
                {
                    lock (table)
                    {
                        live.Rows.Clear();
                        foreach (var row in table.Rows())
                        {
                            live.AddRow(row.Select(Markup.Escape).ToArray());
                        }
                    }

                    context.Refresh();
                    await Task.WhenAny(feed, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None));
                }

                await feed.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            });
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>Tap events summed by source, destination, method and path (the query left out), busiest first.</summary>
    internal sealed class TopTable
    {
        private readonly Dictionary<(string Source, string Destination, string Method, string Path), Line> _lines = [];

        public void Add(TapEvent e)
        {
            var query = e.Path.IndexOf('?', StringComparison.Ordinal);
            var key = (Name(e.Source), Name(e.Destination), e.Method, query >= 0 ? e.Path[..query] : e.Path);
            if (!_lines.TryGetValue(key, out var line))
            {
                _lines[key] = line = new Line { Best = double.MaxValue };
            }

            line.Count++;
            line.Successes += e.Status is > 0 and < 500 && e.GrpcStatus is null or 0 ? 1 : 0;
            line.Best = Math.Min(line.Best, e.LatencyMs);
            line.Worst = Math.Max(line.Worst, e.LatencyMs);
            line.Last = e.LatencyMs;
        }

        private IEnumerable<((string Source, string Destination, string Method, string Path) Key, Line Line)> Ordered() =>
            _lines.OrderByDescending(l => l.Value.Count).ThenBy(l => l.Key.Path, StringComparer.Ordinal).Select(l => (l.Key, l.Value));

        public IEnumerable<string[]> Rows() => Ordered().Select(x => new[]
        {
            x.Key.Source, x.Key.Destination, x.Key.Method, x.Key.Path, x.Line.Count.ToString(CultureInfo.InvariantCulture),
            ViewFormat.Millis(x.Line.Best), ViewFormat.Millis(x.Line.Worst), ViewFormat.Millis(x.Line.Last),
            ViewFormat.Percent((double)x.Line.Successes / x.Line.Count),
        });

        public string Text() => Output.Table.Render(["SOURCE", "DESTINATION", "METHOD", "PATH", "COUNT", "BEST", "WORST", "LAST", "SUCCESS_RATE"], Rows().Select(r => (IReadOnlyList<string>)r));

        public JsonArray Json() => new(Ordered().Select(x => (JsonNode)new JsonObject
        {
            ["source"] = x.Key.Source,
            ["destination"] = x.Key.Destination,
            ["method"] = x.Key.Method,
            ["path"] = x.Key.Path,
            ["count"] = x.Line.Count,
            ["bestMs"] = x.Line.Best,
            ["worstMs"] = x.Line.Worst,
            ["lastMs"] = x.Line.Last,
            ["successRate"] = (double)x.Line.Successes / x.Line.Count,
        }).ToArray());

        private static string Name(LivePeer peer) => peer.Namespace == "unknown" ? peer.Workload : $"{peer.Workload}.{peer.Namespace}";

        private sealed class Line
        {
            public long Count;
            public long Successes;
            public double Best;
            public double Worst;
            public double Last;
        }
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Trellis.Api.LiveViews;
using Trellis.Api.Snapshots;
using Trellis.Cli.Client;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>tap WORKLOAD [--path P] [--method M]</c>: the requests to and from a workload as its proxies see them finish, live
/// (Linkerd's tap): metadata only, never a body. The stream goes through the control plane to the proxies that serve the
/// workload (docs/telemetry.md). <c>top</c> is built on it.
/// </summary>
public static class TapVerb
{
    public static Command Create()
    {
        var workload = new Argument<string>("workload") { Description = "A deployment (deploy/NAME also accepted) or a gateway proxy (ingress)" };
        var (ns, path, method, duration) = Options();
        var max = new Option<int?>("--max-events") { Description = "Stop after this many requests" };
        var output = new Option<string>("--output", "-o") { Description = "text (default: a req and a rsp line per request) or json (one JSON object a line)" };
        var command = new Command("tap", "Stream the requests to and from a workload as its proxies see them (metadata only, never bodies)")
        {
            workload, ns, path, method, duration, max, output,
        };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var format = ViewFormat.Output(parse.GetValue(output));
            var limit = parse.GetValue(max);
            var seen = 0;
            await foreach (var (line, tap) in StreamAsync(client, parse, workload, ns, path, method, duration, ct))
            {
                if (format == "json")
                {
                    Console.WriteLine(line);
                }
                else
                {
                    Console.Write(Render(tap));
                }

                if (limit is { } n && ++seen >= n)
                {
                    break;
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    internal static (Option<string> Namespace, Option<string> Path, Option<string> Method, Option<string> Duration) Options() => (
        Common.Namespace(),
        new Option<string>("--path") { Description = "Only requests whose path starts with this" },
        new Option<string>("--method") { Description = "Only requests with this HTTP method" },
        new Option<string>("--duration") { Description = "Stop after this long, e.g. 10s (default: until interrupted)" });

    /// <summary>The tap's events with their JSON lines, until the duration ends, the stream ends or the user interrupts.</summary>
    internal static async IAsyncEnumerable<(string Line, TapEvent Event)> StreamAsync(
        ControlPlaneClient client, ParseResult parse, Argument<string> workload, Option<string> ns, Option<string> path, Option<string> method, Option<string> duration,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (parse.GetValue(duration) is { Length: > 0 } text)
        {
            if (!Trellis.Api.Durations.TryParse(text, out var span) || span <= TimeSpan.Zero)
            {
                throw new InputException($"--duration {text}: expected a duration such as 10s or 1m");
            }

            stop.CancelAfter(span);
        }

        var name = parse.GetValue(workload)!;
        name = name.StartsWith("deploy/", StringComparison.Ordinal) ? name["deploy/".Length..] : name;
        var query = new StringBuilder("/debug/tap?workload=").Append(Uri.EscapeDataString(name))
            .Append("&namespace=").Append(Uri.EscapeDataString(parse.GetValue(ns)!));
        if (parse.GetValue(path) is { Length: > 0 } prefix)
        {
            query.Append("&path=").Append(Uri.EscapeDataString(prefix));
        }

        if (parse.GetValue(method) is { Length: > 0 } verb)
        {
            query.Append("&method=").Append(Uri.EscapeDataString(verb));
        }

        var lines = client.StreamLinesAsync(query.ToString(), stop.Token).GetAsyncEnumerator(stop.Token);
        try
        {
            while (true)
            {
                string line;
                try
                {
                    if (!await lines.MoveNextAsync())
                    {
                        yield break;
                    }

                    line = lines.Current;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    yield break;
                }

                if (line.Length > 0 && JsonSerializer.Deserialize(line, WireJsonContext.Default.TapEvent) is { } tap)
                {
                    yield return (line, tap);
                }
            }
        }
        finally
        {
            try
            {
                await lines.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Linkerd's two lines: the request as it came, the response as it went.</summary>
    public static string Render(TapEvent e)
    {
        var id = $"{e.Proxy}:{e.Id}";
        var proxy = e.Direction == "inbound" ? "in" : "out";
        var common = $"id={id} proxy={proxy} src={Peer(e.Source)} dst={Peer(e.Destination)} tls={(e.MutualTls ? "true" : "false")}";
        var grpc = e.GrpcStatus is { } status ? $" grpc-status={status}" : "";
        return $"req {common} :method={e.Method} :authority={e.Authority} :path={e.Path}\n"
            + $"rsp {common} :status={e.Status}{grpc} latency={e.LatencyMs.ToString("0.###", CultureInfo.InvariantCulture)}ms "
            + $"request-length={e.RequestBytes}B response-length={e.ResponseBytes}B flags={e.ResponseFlags}\n";
    }

    private static string Peer(LivePeer peer) => peer.Namespace == "unknown" ? peer.Workload : $"{peer.Workload}.{peer.Namespace}";
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Cli.Client;

namespace Trellis.Cli.Verbs;

/// <summary>An applied object, as the apply result names it.</summary>
public sealed record AppliedObject(string Group, string Kind, string Namespace, string Name)
{
    public override string ToString() => $"{Kind.ToLowerInvariant()}{(Group.Length > 0 ? "." + Group : "")}/{Name}";

    /// <summary>The objects an <c>/apply</c> answer names.</summary>
    public static IEnumerable<AppliedObject> FromResults(JsonNode? answer) =>
        (answer?["results"] as JsonArray ?? []).Where(r => r is not null)
            .Select(r => new AppliedObject(Output.Columns.Str(r!["group"]), Output.Columns.Str(r["kind"]), Output.Columns.Str(r["namespace"]), Output.Columns.Str(r["name"])));
}

/// <summary>
/// <c>apply --wait</c>: after the write, waits until every applied object is ready (<see cref="Readiness"/>) and
/// then until every connected proxy runs the configuration of the store as it is at that moment, so that a
/// request sent after the command returns sees what was applied (a Knative Service answers instead of
/// <c>no route</c>). Fails at once when an object fails or a proxy NACKs; gives up after the timeout.
/// </summary>
public static class ApplyWait
{
    public static async Task<int> WaitAsync(ControlPlaneClient client, IReadOnlyList<AppliedObject> applied, TimeSpan limit, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var pending = await ReadyAsync(client, applied, limit, ct);
        if (pending.Count > 0)
        {
            var failed = pending.Where(p => p.Readiness.State == ReadyState.Failed).ToList();
            foreach (var (o, r) in failed.Count > 0 ? failed : pending)
            {
                await Console.Error.WriteLineAsync($"error: {o}: {r.Reason}");
            }

            if (failed.Count == 0)
            {
                await Console.Error.WriteLineAsync($"error: timed out after {Seconds(limit)} waiting for {pending.Count} object(s) to be ready");
            }

            return ExitCodes.Rejected;
        }

        var revision = await ProxySync.StoreRevisionAsync(client, ct);
        var answers = await ProxySync.WaitAsync(client, revision, _ => true, Remaining(limit, clock), ct);
        var nacked = answers.Where(a => a.Answered && !a.Accepted).ToList();
        foreach (var a in nacked)
        {
            await Console.Error.WriteLineAsync($"error: proxy {a.Name} rejected the configuration: {string.Join("; ", a.Errors)}");
        }

        var silent = answers.Where(a => !a.Answered).ToList();
        if (silent.Count > 0)
        {
            await Console.Error.WriteLineAsync($"error: timed out after {Seconds(limit)} waiting for proxies to take the configuration: {string.Join(", ", silent.Select(a => a.Name))}");
        }

        if (nacked.Count > 0 || silent.Count > 0)
        {
            return ExitCodes.Rejected;
        }

        Console.WriteLine($"ready after {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}s: {applied.Count} object(s), configuration in effect on {answers.Count} prox{(answers.Count == 1 ? "y" : "ies")}");
        return ExitCodes.Ok;
    }

    /// <summary><c>--timeout</c>: seconds, or a number with <c>s</c>, <c>m</c> or <c>h</c> (kubectl's <c>30s</c>, <c>2m</c>).</summary>
    public static TimeSpan? ParseTimeout(string value)
    {
        var (digits, unit) = value.Length > 1 && char.IsLetter(value[^1]) ? (value[..^1], value[^1]) : (value, 's');
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            return null;
        }

        return unit switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            _ => null,
        };
    }

    /// <summary>Polls until every object is ready, one has failed, or <paramref name="limit"/> passes; returns those not ready.</summary>
    public static async Task<List<(AppliedObject Object, Readiness Readiness)>> ReadyAsync(
        ControlPlaneClient client, IReadOnlyList<AppliedObject> applied, TimeSpan limit, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var pods = applied.Any(o => o.Kind == "Deployment") ? await ListAsync(client, "/api/v1/pods", ct) : [];
            var pending = new List<(AppliedObject, Readiness)>();
            foreach (var o in applied)
            {
                var info = ResourceKinds.All.First(k => k.Group == o.Group && k.Kind == o.Kind);
                var response = await client.SendAsync(HttpMethod.Get, Kinds.Path(info, info.Namespaced ? o.Namespace : null, o.Name), null, ct);
                var readiness = response.Ok && response.Json is { } json
                    ? Readiness.Of(json, pods)
                    : new Readiness(ReadyState.Failed, $"cannot read it back: {response.Message}");
                if (readiness.State != ReadyState.Ready)
                {
                    pending.Add((o, readiness));
                }
            }

            if (pending.Count == 0 || pending.Any(p => p.Item2.State == ReadyState.Failed) || clock.Elapsed >= limit)
            {
                return pending;
            }

            await Task.Delay(200, ct);
        }
    }

    private static async Task<List<JsonNode>> ListAsync(ControlPlaneClient client, string path, CancellationToken ct)
    {
        var response = await client.SendAsync(HttpMethod.Get, path, null, ct);
        return response.Ok && response.Json?["items"] is JsonArray items ? items.Where(i => i is not null).Select(i => i!).ToList() : [];
    }

    private static TimeSpan Remaining(TimeSpan limit, Stopwatch clock) => limit > clock.Elapsed ? limit - clock.Elapsed : TimeSpan.Zero;

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + "s";
}

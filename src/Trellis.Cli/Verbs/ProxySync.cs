using System.Globalization;
using System.Text.Json.Nodes;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>One connected proxy's answer to the configuration of a store revision.</summary>
public sealed record ProxyAnswer(string Name, bool Answered, bool Accepted, IReadOnlyList<string> Errors);

/// <summary>
/// Waits until connected proxies have answered the configuration of a store revision: the control plane has
/// compiled a snapshot from a state at least that new for them (<c>storeRevision</c> in <c>/debug/proxies</c>)
/// and they ACKed or NACKed what it sent. Shared by <c>apply --wait</c> and <c>up</c>, so both mean the same.
/// </summary>
public static class ProxySync
{
    /// <summary>The store's current revision, from the metadata of any list.</summary>
    public static async Task<long> StoreRevisionAsync(ControlPlaneClient client, CancellationToken ct)
    {
        var response = await client.SendAsync(HttpMethod.Get, "/api/v1/namespaces/default/services", null, ct);
        if (!response.Ok)
        {
            throw new ApiException(response.Status, response.Message);
        }

        return long.Parse(Columns.Str(response.Json?["metadata"]?["resourceVersion"]), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>What each proxy selected by <paramref name="which"/> has answered for <paramref name="revision"/>.</summary>
    public static async Task<IReadOnlyList<ProxyAnswer>> AnswersAsync(ControlPlaneClient client, long revision, Func<string, bool> which, CancellationToken ct)
    {
        var response = await client.SendAsync(HttpMethod.Get, "/debug/proxies", null, ct);
        if (!response.Ok)
        {
            throw new ApiException(response.Status, response.Message);
        }

        return (response.Json as JsonArray ?? [])
            .Where(p => p is not null && which(Columns.Str(p["name"])))
            .Select(p => Answer(p!, revision))
            .ToList();
    }

    /// <summary>
    /// Polls until every selected proxy answered, and at least <paramref name="atLeast"/> are connected (a proxy
    /// that is starting has not said hello yet), or until <paramref name="limit"/> passes; returns the last answers.
    /// </summary>
    public static async Task<IReadOnlyList<ProxyAnswer>> WaitAsync(ControlPlaneClient client, long revision, Func<string, bool> which, TimeSpan limit, CancellationToken ct, int atLeast = 0)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while (true)
        {
            var answers = await AnswersAsync(client, revision, which, ct);
            if ((answers.Count >= atLeast && answers.All(a => a.Answered)) || DateTimeOffset.UtcNow >= deadline)
            {
                return answers;
            }

            await Task.Delay(100, ct);
        }
    }

    private static ProxyAnswer Answer(JsonNode proxy, long revision)
    {
        var sent = Columns.Str(proxy["sent"]);
        var current = proxy["storeRevision"]?.GetValue<long>() >= revision && sent.Length > 0;
        var acked = current && Columns.Str(proxy["acked"]) == sent;
        var nacked = current && Columns.Str(proxy["nacked"]) == sent;
        var errors = (proxy["errors"] as JsonArray ?? []).Select(Columns.Str).ToList();
        return new ProxyAnswer(Columns.Str(proxy["name"]), acked || nacked, acked, nacked ? errors : []);
    }
}

using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Trellis.Api;

namespace Trellis.Agent;

/// <summary>
/// Keeps a local copy of one kind from the control plane: list, then watch from the list's
/// resourceVersion; on any break (or 410 Gone) list again. Calls <c>onChange</c> with the whole set.
/// </summary>
public sealed partial class ResourceWatcher(HttpClient http, string collectionPath, Action<IReadOnlyList<Resource>> onChange, ILogger log)
{
    private readonly Dictionary<ResourceKey, Resource> _items = [];

    public async Task RunAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var revision = await ListAsync(stop);
                backoff = TimeSpan.FromMilliseconds(200);
                await WatchAsync(revision, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or System.Text.Json.JsonException or OperationCanceledException)
            {
                LogWatchFailed(log, collectionPath, e.Message);
            }

            try
            {
                await Task.Delay(backoff, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    private async Task<long> ListAsync(CancellationToken stop)
    {
        var list = JsonNode.Parse(await http.GetStringAsync(collectionPath, stop))!;
        _items.Clear();
        foreach (var item in list["items"]!.AsArray())
        {
            if (Parse(item!) is { } r)
            {
                _items[r.Key] = r;
            }
        }

        onChange(_items.Values.ToList());
        return long.Parse((string)list["metadata"]!["resourceVersion"]!, CultureInfo.InvariantCulture);
    }

    private async Task WatchAsync(long revision, CancellationToken stop)
    {
        using var response = await http.GetAsync($"{collectionPath}?watch=true&resourceVersion={revision}", HttpCompletionOption.ResponseHeadersRead, stop);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop));
        while (await reader.ReadLineAsync(stop) is { } line)
        {
            var e = JsonNode.Parse(line)!;
            if (Parse(e["object"]!) is not { } r)
            {
                continue;
            }

            if ((string?)e["type"] == "DELETED")
            {
                _items.Remove(r.Key);
            }
            else
            {
                _items[r.Key] = r;
            }

            onChange(_items.Values.ToList());
        }
    }

    private Resource? Parse(JsonNode json)
    {
        var read = ResourceReader.Read(json.ToJsonString(), collectionPath);
        if (read.HasErrors || read.Resources.Count != 1)
        {
            LogUnreadable(log, collectionPath, string.Join("; ", read.Diagnostics));
            return null;
        }

        return read.Resources[0];
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Watch of {Path} broke ({Reason}); listing again")]
    private static partial void LogWatchFailed(ILogger log, string path, string reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Ignoring an unreadable object from {Path}: {Errors}")]
    private static partial void LogUnreadable(ILogger log, string path, string errors);
}

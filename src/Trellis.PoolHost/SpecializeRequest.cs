using System.Text.Json;

namespace Trellis.PoolHost;

/// <summary>
/// What the agent sends to turn this host into one instance, as one JSON line:
/// <c>{"assembly": "/abs/fn.dll", "args": [...], "env": {...}, "workingDirectory": "/abs",
/// "logPath": "/abs/logs/id.log", "properties": {...}}</c>. <c>env</c> holds what the instance's
/// environment adds to the agent's (which this host inherited); <c>properties</c> are the
/// function's runtimeconfig.json <c>configProperties</c>.
/// </summary>
internal sealed record SpecializeRequest(
    string Assembly,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Env,
    string WorkingDirectory,
    string LogPath,
    IReadOnlyDictionary<string, string> Properties)
{
    /// <summary>Parses one request line; throws <see cref="FormatException"/> naming the bad field.</summary>
    public static SpecializeRequest Parse(string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            return new SpecializeRequest(
                Required(root, "assembly"),
                root.TryGetProperty("args", out var args) ? args.EnumerateArray().Select(a => a.GetString() ?? "").ToArray() : [],
                Map(root, "env"),
                Required(root, "workingDirectory"),
                Required(root, "logPath"),
                Map(root, "properties"));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new FormatException("bad specialize request: " + e.Message, e);
        }
    }

    private static string Required(JsonElement root, string name) =>
        root.GetProperty(name).GetString() is { Length: > 0 } value ? value : throw new KeyNotFoundException($"'{name}' is empty");

    private static Dictionary<string, string> Map(JsonElement root, string name)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty(name, out var element))
        {
            foreach (var property in element.EnumerateObject())
            {
                map[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
        }

        return map;
    }
}

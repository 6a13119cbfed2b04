using System.Collections.Concurrent;
using System.Text.Json;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Push;

/// <summary>
/// Compiles and serializes each distinct proxy view once per mesh state, however many proxies share it
/// (Istio's push context idea): every gateway with the same labels gets the same object and the same bytes, so a
/// change pushed to 1,000 replicas costs one compile and one serialization (bench/run push).
/// </summary>
public sealed class SnapshotCache
{
    private readonly ConcurrentDictionary<string, (long Generation, WireSnapshot Wire)> _byView = new(StringComparer.Ordinal);

    public ProxySnapshot Get(ProxyHello proxy, MeshState state) => GetWire(proxy, state).Snapshot;

    /// <summary>The view's snapshot with its push-stream line (NDJSON: the JSON and a line feed), shared by every proxy of the view.</summary>
    public WireSnapshot GetWire(ProxyHello proxy, MeshState state)
    {
        var view = ViewKey(proxy);
        if (_byView.TryGetValue(view, out var cached) && cached.Generation == state.Generation)
        {
            return cached.Wire;
        }

        var compiled = SnapshotCompiler.Compile(proxy, state);
        var json = JsonSerializer.SerializeToUtf8Bytes(compiled, WireJsonContext.Default.ProxySnapshot);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        var wire = new WireSnapshot(compiled, line);
        _byView[view] = (state.Generation, wire);
        return wire;
    }

    // A node's labels say whether it captures (ProxyHello.CapturePortLabel): an agent restarted with or without it is another view.
    private static string ViewKey(ProxyHello proxy) => (proxy.Role == ProxyRole.Node ? "node/" + proxy.Node + "/" : "gateway/")
        + string.Join(",", proxy.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value));
}

/// <summary>A compiled snapshot and its bytes on the push stream.</summary>
public sealed record WireSnapshot(ProxySnapshot Snapshot, byte[] Line);

using System.Collections.Concurrent;
using System.Text.Json;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Push;

/// <summary>
/// Compiles and serializes each distinct proxy view once per mesh state, however many proxies share it
/// (Istio's push context idea): every gateway with the same labels gets the same object and the same bytes, so a
/// change pushed to 1,000 replicas costs one compile and one serialization (bench/run push). A new state wakes every
/// stream at once: the first to ask compiles, and the others wait for that compile rather than start their own.
/// </summary>
public sealed class SnapshotCache
{
    private readonly ConcurrentDictionary<string, Entry> _byView = new(StringComparer.Ordinal);

    /// <summary>Counts compiles (tests: one per view per state).</summary>
    public long Compiles => Interlocked.Read(ref _compiles);

    private long _compiles;

    public ProxySnapshot Get(ProxyHello proxy, MeshState state) => GetWire(ViewKey(proxy), proxy, state).Snapshot;

    /// <summary>The view's snapshot with its push-stream line (NDJSON: the JSON and a line feed), shared by every proxy of the view.</summary>
    public WireSnapshot GetWire(ProxyHello proxy, MeshState state) => GetWire(ViewKey(proxy), proxy, state);

    /// <summary>As <see cref="GetWire(ProxyHello, MeshState)"/> with the proxy's <see cref="ViewKey"/> worked out once (a push stream keeps it).</summary>
    public WireSnapshot GetWire(string view, ProxyHello proxy, MeshState state)
    {
        while (true)
        {
            if (_byView.TryGetValue(view, out var cached))
            {
                if (cached.Generation == state.Generation)
                {
                    return cached.Wire.Value;
                }

                if (cached.Generation > state.Generation)
                {
                    return Compile(proxy, state); // a stream still on an older state: not worth keeping
                }
            }

            var entry = new Entry(state.Generation, new Lazy<WireSnapshot>(() => Compile(proxy, state), LazyThreadSafetyMode.ExecutionAndPublication));
            var stored = cached is null ? _byView.TryAdd(view, entry) : _byView.TryUpdate(view, entry, cached);
            if (stored)
            {
                return entry.Wire.Value;
            }

            // Another stream stored its entry first: use that one (the loop finds it).
        }
    }

    /// <summary>
    /// What a proxy's snapshot depends on besides the mesh state: its role, node and labels. A node's labels say whether it
    /// captures (ProxyHello.CapturePortLabel): an agent restarted with or without it is another view.
    /// </summary>
    public static string ViewKey(ProxyHello proxy) => (proxy.Role == ProxyRole.Node ? "node/" + proxy.Node + "/" : "gateway/")
        + string.Join(",", proxy.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value));

    private WireSnapshot Compile(ProxyHello proxy, MeshState state)
    {
        Interlocked.Increment(ref _compiles);
        var compiled = SnapshotCompiler.Compile(proxy, state);
        var json = JsonSerializer.SerializeToUtf8Bytes(compiled, WireJsonContext.Default.ProxySnapshot);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return new WireSnapshot(compiled, line);
    }

    private sealed record Entry(long Generation, Lazy<WireSnapshot> Wire);
}

/// <summary>A compiled snapshot and its bytes on the push stream.</summary>
public sealed record WireSnapshot(ProxySnapshot Snapshot, byte[] Line);

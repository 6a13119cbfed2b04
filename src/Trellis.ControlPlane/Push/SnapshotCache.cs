using System.Collections.Concurrent;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Push;

/// <summary>
/// Compiles each distinct proxy view once per mesh state, however many proxies share it
/// (Istio's push context idea): every gateway with the same labels gets the same object.
/// </summary>
public sealed class SnapshotCache
{
    private readonly ConcurrentDictionary<string, (long Generation, ProxySnapshot Snapshot)> _byView = new(StringComparer.Ordinal);

    public ProxySnapshot Get(ProxyHello proxy, MeshState state)
    {
        var view = ViewKey(proxy);
        if (_byView.TryGetValue(view, out var cached) && cached.Generation == state.Generation)
        {
            return cached.Snapshot;
        }

        var compiled = SnapshotCompiler.Compile(proxy, state);
        _byView[view] = (state.Generation, compiled);
        return compiled;
    }

    private static string ViewKey(ProxyHello proxy) => proxy.Role switch
    {
        ProxyRole.Node => "node/" + proxy.Node,
        _ => "gateway/" + string.Join(",", proxy.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)),
    };
}

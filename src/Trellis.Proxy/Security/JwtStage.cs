using System.Collections.Frozen;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Security;

/// <summary>
/// End-user authentication in the inbound-policy stage: the RequestAuthentication of each listener of the current
/// snapshot (<see cref="JwtAuthentication"/>), compiled on the snapshot's first request and kept until the next swap.
/// A listener without JWT rules costs one dictionary lookup (none when no listener has rules) and allocates nothing.
/// </summary>
internal sealed class JwtStage(SnapshotHolder snapshots, TimeProvider time, int cacheCapacity = JwtAuthentication.DefaultCacheCapacity)
{
    private Compiled _compiled = new(null, FrozenDictionary<string, JwtAuthentication>.Empty);

    /// <summary>What the listener's rules make of the request; default (no user, no failure) when it has none.</summary>
    public JwtVerdict Authenticate(in RouteRequest request, string listener)
    {
        var byListener = For(snapshots.Current);
        return byListener.Count != 0 && byListener.TryGetValue(listener, out var authentication)
            ? authentication.Authenticate(request)
            : default;
    }

    private FrozenDictionary<string, JwtAuthentication> For(CompiledSnapshot snapshot)
    {
        var compiled = Volatile.Read(ref _compiled);
        if (ReferenceEquals(compiled.Snapshot, snapshot))
        {
            return compiled.ByListener;
        }

        var byListener = snapshot.Source.Listeners
            .Where(l => l.Authentication is { Providers.Count: > 0 })
            .ToFrozenDictionary(l => l.Name, l => JwtAuthentication.Compile(l.Authentication!, time, cacheCapacity), StringComparer.Ordinal);
        Volatile.Write(ref _compiled, new Compiled(snapshot, byListener));
        return byListener;
    }

    private sealed record Compiled(CompiledSnapshot? Snapshot, FrozenDictionary<string, JwtAuthentication> ByListener);
}

using Trellis.Api.Snapshots;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// A cluster's consistent-hash lookup (ring hash or Maglev), built once per snapshot from its endpoints; lookups are
/// lock-free and allocate nothing.
/// </summary>
internal interface IConsistentHashTable
{
    /// <summary>
    /// The endpoint for a request's key hash. <paramref name="attempt"/> &gt; 0 (a retry) moves to another position,
    /// as Envoy's retry host predicate does. With <paramref name="skipEjected"/>, an ejected endpoint's keys go to
    /// others while the rest keep theirs; the caller has checked that one serves.
    /// </summary>
    EndpointState Pick(ulong hash, int attempt, bool skipEjected);
}

/// <summary>Builds a cluster's <see cref="IConsistentHashTable"/> from <see cref="ConsistentHashConfig.Algorithm"/>.</summary>
internal static class ConsistentHashTables
{
    /// <summary>Null when the cluster has no endpoints.</summary>
    /// <param name="previous">The cluster's table in the snapshot being replaced: a ring keeps its points per endpoint
    /// from it (see <see cref="RingHashTable"/>).</param>
    public static IConsistentHashTable? Build(ConsistentHashConfig config, EndpointState[] endpoints, IConsistentHashTable? previous = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (endpoints.Length == 0)
        {
            return null;
        }

        return config.Algorithm == HashAlgorithm.Maglev
            ? new MaglevTable(endpoints, config.MaglevTableSize)
            : new RingHashTable(endpoints, config.MinimumRingSize, previous as RingHashTable);
    }
}

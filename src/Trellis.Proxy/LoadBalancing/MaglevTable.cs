namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// Envoy's Maglev (<c>MaglevLoadBalancer</c>, Eisenbud et al., NSDI 2016): a table of a prime size (65537 by default)
/// filled by the endpoints in turn, each at the next free slot of its own permutation
/// (<c>offset = xxHash64(address:port) mod M</c>, <c>skip = xxHash64(address:port, seed 1) mod (M − 1) + 1</c>,
/// endpoints in the order of their keys); a key goes to <c>table[hash mod M]</c>. Every endpoint owns M/n slots
/// within one, and removing one moves its slots and only a few others.
/// </summary>
internal sealed class MaglevTable : IConsistentHashTable
{
    /// <summary>How many other positions a key tries when its endpoint is ejected before scanning the table.</summary>
    private const int EjectedProbes = 32;

    private readonly EndpointState[] _endpoints;
    private readonly int[] _table;

    public MaglevTable(EndpointState[] endpoints, int tableSize)
    {
        ArgumentOutOfRangeException.ThrowIfZero(endpoints.Length);
        if (!IsPrime(tableSize))
        {
            // The snapshot validator refuses these; reaching here is a bug, not bad input.
            throw new ArgumentOutOfRangeException(nameof(tableSize), tableSize, "the Maglev table size must be a prime");
        }

        // A stable order, so the table does not depend on the order endpoints were listed in (Envoy sorts too).
        _endpoints = endpoints.OrderBy(HashKey.EndpointKey, StringComparer.Ordinal).ToArray();
        var size = (ulong)tableSize;
        var offsets = new ulong[_endpoints.Length];
        var skips = new ulong[_endpoints.Length];
        var next = new ulong[_endpoints.Length];
        for (var i = 0; i < _endpoints.Length; i++)
        {
            var key = HashKey.EndpointKey(_endpoints[i]);
            offsets[i] = HashKey.Hash(key) % size;
            skips[i] = (HashKey.Hash(key, seed: 1) % (size - 1)) + 1;
        }

        _table = new int[tableSize];
        Array.Fill(_table, -1);
        var filled = 0;
        while (filled < tableSize)
        {
            for (var i = 0; i < _endpoints.Length && filled < tableSize; i++)
            {
                var slot = (offsets[i] + (skips[i] * next[i])) % size;
                while (_table[slot] >= 0)
                {
                    next[i]++;
                    slot = (offsets[i] + (skips[i] * next[i])) % size;
                }

                _table[slot] = i;
                next[i]++;
                filled++;
            }
        }
    }

    public int Size => _table.Length;

    public EndpointState Pick(ulong hash, int attempt, bool skipEjected)
    {
        var picked = _endpoints[_table[Slot(hash, attempt)]];
        if (!skipEjected || !picked.Outlier.IsEjected)
        {
            return picked;
        }

        // Envoy rebuilds the table without the ejected endpoint; instead its keys move as a retry's would (another
        // position per probe), so every serving endpoint keeps its own keys and no table is built on the request path.
        for (var probe = 1; probe <= EjectedProbes; probe++)
        {
            var candidate = _endpoints[_table[Slot(hash, attempt + probe)]];
            if (!candidate.Outlier.IsEjected)
            {
                return candidate;
            }
        }

        var start = Slot(hash, attempt);
        for (var step = 1; step < _table.Length; step++)
        {
            var candidate = _endpoints[_table[(start + step) % _table.Length]];
            if (!candidate.Outlier.IsEjected)
            {
                return candidate;
            }
        }

        return picked;
    }

    /// <summary>Whether <paramref name="n"/> is a prime (a valid <c>maglev.tableSize</c>).</summary>
    public static bool IsPrime(int n)
    {
        if (n < 2)
        {
            return false;
        }

        for (var d = 2; (long)d * d <= n; d++)
        {
            if (n % d == 0)
            {
                return false;
            }
        }

        return true;
    }

    private int Slot(ulong hash, int attempt)
    {
        // Envoy's retry mutation: a value with most bits set changes the hash a lot per attempt.
        if (attempt > 0)
        {
            hash ^= ~0UL - (ulong)attempt + 1;
        }

        return (int)(hash % (ulong)_table.Length);
    }
}

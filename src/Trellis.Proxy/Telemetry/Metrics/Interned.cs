using System.Collections.Concurrent;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// Gives each distinct value a small stable number, for the life of the proxy, so that a metric series is keyed by a
/// few integers instead of strings: requests compare numbers, and only a new value (a new workload, a new service,
/// met at snapshot compile time or when a peer first calls) allocates. Id 0 is the value given at construction (the
/// "unknown" label set).
/// </summary>
internal sealed class Interned<T>
    where T : class, IEquatable<T>
{
    private readonly ConcurrentDictionary<T, int> _ids = new();
    private readonly object _addLock = new();
    private T[] _values;
    private int _count;

    public Interned(T none)
    {
        _values = new T[16];
        Id(none);
    }

    /// <summary>The number of <paramref name="value"/>, assigning the next one the first time.</summary>
    public int Id(T value)
    {
        if (_ids.TryGetValue(value, out var id))
        {
            return id;
        }

        lock (_addLock)
        {
            if (_ids.TryGetValue(value, out id))
            {
                return id;
            }

            if (_count == _values.Length)
            {
                var larger = new T[_count * 2];
                _values.AsSpan().CopyTo(larger);
                Volatile.Write(ref _values, larger);
            }

            id = _count;
            _values[id] = value;
            Volatile.Write(ref _count, id + 1);
            _ids[value] = id; // published last: whoever finds the id finds the value at it
            return id;
        }
    }

    public T this[int id] => Volatile.Read(ref _values)[id];

    public int Count => Volatile.Read(ref _count);
}

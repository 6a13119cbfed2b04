namespace Trellis.Proxy.Serving;

/// <summary>A counter of slots taken, raised only while below a capacity; exact under races.</summary>
internal static class BoundedCounter
{
    /// <summary>Adds one to <paramref name="taken"/> unless it already is <paramref name="capacity"/> (a read-then-increment could overshoot).</summary>
    public static bool TryIncrement(ref int taken, int capacity)
    {
        var current = Volatile.Read(ref taken);
        while (current < capacity)
        {
            var seen = Interlocked.CompareExchange(ref taken, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Takes one from <paramref name="taken"/> unless it is already 0: a release without a take cannot drive a
    /// count negative (and so raise its capacity for good). False when there was nothing to release.</summary>
    public static bool TryDecrement(ref int taken)
    {
        var current = Volatile.Read(ref taken);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref taken, current - 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }
}

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
}

using System.Net.Sockets;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// Live state of one upstream endpoint. Kept across snapshots while the endpoint stays in its
/// cluster, so least-request counts are not reset by unrelated config pushes.
/// </summary>
internal sealed class EndpointState
{
    private int _activeRequests;
    private int _activatorSlots;
    private long _joinedAt = long.MinValue;

    public EndpointState(string address, int port)
    {
        Address = address;
        Port = port;
        // IPv6 literals need brackets in a URI; computed once so each request only concatenates.
        var host = System.Net.IPAddress.TryParse(address, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + address + "]"
            : address;
        Origin = "http://" + host + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public string Address { get; }

    public int Port { get; }

    /// <summary><c>http://host:port</c>, the prefix of every upstream request URI.</summary>
    public string Origin { get; }

    public int ActiveRequests => Volatile.Read(ref _activeRequests);

    public void RequestStarted() => Interlocked.Increment(ref _activeRequests);

    public void RequestEnded() => Interlocked.Decrement(ref _activeRequests);

    /// <summary>Requests holding one of this endpoint's slots while the activator is in the path (see <see cref="TryTakeSlot"/>).</summary>
    public int ActivatorSlots => Volatile.Read(ref _activatorSlots);

    /// <summary>Takes a slot unless <paramref name="capacity"/> are taken; exact under races, unlike a read-then-increment.</summary>
    public bool TryTakeSlot(int capacity) => Serving.BoundedCounter.TryIncrement(ref _activatorSlots, capacity);

    public void ReturnSlot() => Interlocked.Decrement(ref _activatorSlots);

    /// <summary>When the endpoint joined its cluster, a timestamp of the proxy's clock (for slow start); <see cref="long.MinValue"/>
    /// until the first <see cref="EndpointPicker"/> that holds it records it (<see cref="Join"/>).</summary>
    public long JoinedAt => Volatile.Read(ref _joinedAt);

    /// <summary>Records <paramref name="now"/> as the join time unless one is recorded already; returns the join time.</summary>
    public long Join(long now)
    {
        var seen = Interlocked.CompareExchange(ref _joinedAt, now, long.MinValue);
        return seen == long.MinValue ? now : seen;
    }

    /// <summary>Outlier detection's streaks and ejection (<see cref="Resilience.OutlierDetector"/>), kept with the endpoint across snapshots.</summary>
    public Resilience.OutlierState Outlier { get; } = new();
}

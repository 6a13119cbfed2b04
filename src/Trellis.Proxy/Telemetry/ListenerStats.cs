namespace Trellis.Proxy.Telemetry;

/// <summary>Live counters of one listener; increments are lock-free.</summary>
internal sealed class ListenerStats
{
    private long _requests;

    public long Requests => Interlocked.Read(ref _requests);

    public void RequestReceived() => Interlocked.Increment(ref _requests);
}

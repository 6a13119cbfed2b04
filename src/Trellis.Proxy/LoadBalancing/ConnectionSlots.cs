namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// Istio's <c>tcp.maxConnections</c> for HTTP/1.1 upstreams, where a connection carries one request at a time: at most
/// that many attempts hold an upstream connection at once; the next ones wait (as Envoy's pending requests, bounded by
/// <c>http1MaxPendingRequests</c> through the cluster's circuit breaker) until one is given back. Idle pooled
/// connections do not count here, unlike in Envoy; the pool closes them after their idle timeout.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A SemaphoreSlim whose wait handle is never asked for holds nothing to dispose.")]
internal sealed class ConnectionSlots(int max)
{
    private readonly SemaphoreSlim _slots = new(max, max);

    public int Max { get; } = max;

    /// <summary>A slot now, without waiting.</summary>
    public bool TryTake() => _slots.Wait(0);

    /// <summary>Waits for a slot; false when <paramref name="token"/> fires first.</summary>
    public async ValueTask<bool> WaitAsync(CancellationToken token)
    {
        try
        {
            await _slots.WaitAsync(token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Return() => _slots.Release();
}

namespace Trellis.Proxy.Resilience;

/// <summary>
/// Envoy's fully jittered exponential back-off between retries (router filter, "x-envoy-max-retries"; the code is
/// <c>JitteredExponentialBackOffStrategy</c>): retry <c>n</c> (1-based) waits a uniformly random whole number of
/// milliseconds in <c>[0, min(2^(n-1) × base, max))</c>, base 25 ms and max 10 × base (250 ms) by default. So with the
/// defaults: [0, 25), [0, 50), [0, 100), [0, 200), then [0, 250) for every later retry.
/// <para>Envoy's documentation states the range as <c>[0, (2^N − 1) × base)</c> (0–24, 0–74, 0–174 ms); its code, since
/// the back-off strategy was shared with other users, doubles the interval instead. Trellis does what Envoy does.</para>
/// Immutable and allocation-free; the random source is the proxy's injected one.
/// </summary>
internal sealed class RetryBackoff
{
    /// <summary>Envoy's default base interval (runtime <c>upstream.base_retry_backoff_ms</c>).</summary>
    public static readonly TimeSpan DefaultBase = TimeSpan.FromMilliseconds(25);

    private readonly int _baseMs;
    private readonly int _maxMs;
    private readonly Func<int, int> _random;

    /// <param name="baseInterval">Null: 25 ms. Below 1 ms it is 1 ms (Envoy rounds up too).</param>
    /// <param name="random">Uniform in [0, maxExclusive), thread-safe (<see cref="ProxyServerOptions.Random"/>).</param>
    public RetryBackoff(TimeSpan? baseInterval, Func<int, int> random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var baseMs = (baseInterval ?? DefaultBase).TotalMilliseconds;
        // Bounded so that 10 × base stays an int; a 20-day back-off is no back-off anyone means.
        _baseMs = (int)Math.Clamp(Math.Ceiling(baseMs), 1, int.MaxValue / 10);
        _maxMs = 10 * _baseMs;
        _random = random;
    }

    public TimeSpan Base => TimeSpan.FromMilliseconds(_baseMs);

    public TimeSpan Max => TimeSpan.FromMilliseconds(_maxMs);

    /// <summary>The upper bound (exclusive, in ms) of retry <paramref name="retry"/>'s wait: <c>min(2^(retry-1) × base, max)</c>.</summary>
    public int UpperBoundMs(int retry)
    {
        if (retry < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(retry), retry, "retries count from 1");
        }

        // Doubling stops at the max, as Envoy's doubling limit does, so large retry numbers cannot overflow.
        var interval = _baseMs;
        for (var i = 1; i < retry && interval < _maxMs; i++)
        {
            interval = interval > _maxMs / 2 ? _maxMs : interval * 2;
        }

        return Math.Min(interval, _maxMs);
    }

    /// <summary>How long to wait before retry <paramref name="retry"/> (1 for the first retry).</summary>
    public TimeSpan Delay(int retry) => TimeSpan.FromMilliseconds(_random(UpperBoundMs(retry)));
}

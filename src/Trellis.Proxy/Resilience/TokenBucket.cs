using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Resilience;

/// <summary>What one <see cref="TokenBucket.TryTake"/> found, with the values of the rate-limit response fields.</summary>
/// <param name="Allowed">A token was taken; false: answer 429 (flag <c>RL</c>).</param>
/// <param name="Limit"><c>x-ratelimit-limit</c>: the bucket's size.</param>
/// <param name="Remaining"><c>x-ratelimit-remaining</c>: tokens left after this request.</param>
/// <param name="ResetSeconds"><c>x-ratelimit-reset</c>: whole seconds until the next fill, as Envoy computes them.</param>
internal readonly record struct RateLimitDecision(bool Allowed, int Limit, int Remaining, long ResetSeconds);

/// <summary>
/// A local token bucket (<see cref="RateLimitConfig"/>, Envoy's <c>local_ratelimit</c> filter): it starts full with
/// <c>MaxTokens</c>, gains <c>TokensPerFill</c> (up to <c>MaxTokens</c>) at every <c>FillInterval</c> since it was
/// made, and each request takes one token or is refused. Envoy fills on a timer; here the fills due are counted from
/// the injected clock when a request asks (no timer), which gives the same tokens at the same moments. Lock-free: a
/// take is a compare-and-swap on the token count, a fill one on the fill count, and neither allocates.
/// <para>The response fields follow Envoy's <c>enable_x_ratelimit_headers: DRAFT_VERSION_03</c>: the limit is the
/// bucket's size, the remaining count what is left, and the reset <c>FillInterval − (whole seconds since the last
/// fill)</c>, truncated to whole seconds (so 0 for intervals under a second).</para>
/// </summary>
internal sealed class TokenBucket
{
    /// <summary>Response field names (Envoy's and the IETF RateLimit draft's).</summary>
    public const string LimitField = "x-ratelimit-limit";
    public const string RemainingField = "x-ratelimit-remaining";
    public const string ResetField = "x-ratelimit-reset";

    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly long _intervalTicks;
    private long _fills;
    private int _tokens;

    public TokenBucket(RateLimitConfig config, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(time);
        Config = config;
        _time = time;
        _start = time.GetTimestamp();
        // In the clock's own units; an interval of 0 or less (a hand-written snapshot) fills at every tick.
        _intervalTicks = Math.Max(1, (long)(config.FillInterval.TotalSeconds * time.TimestampFrequency));
        _tokens = Math.Max(0, config.MaxTokens);
    }

    public RateLimitConfig Config { get; }

    /// <summary>Tokens in the bucket now (fills due are counted first).</summary>
    public int Tokens
    {
        get
        {
            Fill(_time.GetTimestamp());
            return Volatile.Read(ref _tokens);
        }
    }

    /// <summary>The bucket for a new snapshot: <paramref name="previous"/> when the config is the same, so a push does not
    /// refill every bucket; a new, full one otherwise.</summary>
    public static TokenBucket Create(RateLimitConfig config, TokenBucket? previous, TimeProvider time) =>
        previous is not null && previous.Config == config ? previous : new TokenBucket(config, time);

    /// <summary>Takes a token for one request, if there is one.</summary>
    public RateLimitDecision TryTake()
    {
        var now = _time.GetTimestamp();
        var fills = Fill(now);
        var tokens = Volatile.Read(ref _tokens);
        var allowed = false;
        while (tokens > 0)
        {
            var seen = Interlocked.CompareExchange(ref _tokens, tokens - 1, tokens);
            if (seen == tokens)
            {
                tokens--;
                allowed = true;
                break;
            }

            tokens = seen;
        }

        return new RateLimitDecision(allowed, Config.MaxTokens, tokens, ResetSeconds(now, fills));
    }

    /// <summary>Adds the fills due by <paramref name="now"/> that no one has added yet; returns the fills due.</summary>
    private long Fill(long now)
    {
        var due = (now - _start) / _intervalTicks;
        var done = Volatile.Read(ref _fills);
        while (done < due)
        {
            var seen = Interlocked.CompareExchange(ref _fills, due, done);
            if (seen != done)
            {
                done = seen;
                continue;
            }

            // This caller won the fills from done to due and adds their tokens, capped at the bucket's size.
            var add = (due - done) * Math.Max(0L, Config.TokensPerFill);
            var tokens = Volatile.Read(ref _tokens);
            while (true)
            {
                var filled = (int)Math.Min(Math.Max(0, Config.MaxTokens), tokens + add);
                var was = Interlocked.CompareExchange(ref _tokens, filled, tokens);
                if (was == tokens)
                {
                    break;
                }

                tokens = was;
            }

            break;
        }

        return due;
    }

    private long ResetSeconds(long now, long fills)
    {
        var lastFill = _start + (fills * _intervalTicks);
        var sinceFill = _time.GetElapsedTime(lastFill, now);
        // Envoy: ToInt64Seconds(fill_interval - Seconds((now - fill_time) / 1s)).
        return (long)(Config.FillInterval - TimeSpan.FromSeconds(Math.Floor(sinceFill.TotalSeconds))).TotalSeconds;
    }
}

using Trellis.Api.Snapshots;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Resilience;

public sealed class TokenBucketTests
{
    // A script of steps on a manual clock: "+1.5" advances 1.5 s, "take" takes a token. Each take's expected
    // decision: allowed or not, remaining, reset seconds.
    public static TheoryData<int, int, double, string, string> Scripts() => new()
    {
        // Starts full; empty after MaxTokens takes; the fill at 1 s brings TokensPerFill.
        { 3, 1, 1, "take take take take", "ok/2/1 ok/1/1 ok/0/1 no/0/1" },
        { 3, 1, 1, "take take take +1 take take", "ok/2/1 ok/1/1 ok/0/1 ok/0/1 no/0/1" },
        { 3, 1, 1, "take take take +0.999 take", "ok/2/1 ok/1/1 ok/0/1 no/0/1" },
        // Several fills due at once are added together, capped at the size.
        { 3, 1, 1, "take take take +2 take take take", "ok/2/1 ok/1/1 ok/0/1 ok/1/1 ok/0/1 no/0/1" },
        { 3, 2, 1, "take take take +10 take", "ok/2/1 ok/1/1 ok/0/1 ok/2/1" },
        // x-ratelimit-reset: the interval minus the whole seconds since the last fill (Envoy's arithmetic).
        { 10, 10, 60, "take +10.5 take +49 take +0.5 take", "ok/9/60 ok/8/50 ok/7/1 ok/9/60" },
        { 10, 10, 0.5, "take +0.25 take", "ok/9/0 ok/8/0" },
        // Tokens per fill beyond the size only fill it.
        { 2, 100, 1, "take take +1 take take take", "ok/1/1 ok/0/1 ok/1/1 ok/0/1 no/0/1" },
    };

    [Theory]
    [MemberData(nameof(Scripts))]
    public void TryTake_Script_TokensAndFieldsAsEnvoy(int maxTokens, int perFill, double intervalSeconds, string steps, string expected)
    {
        var time = new ManualTimeProvider();
        var bucket = new TokenBucket(new RateLimitConfig(maxTokens, perFill, TimeSpan.FromSeconds(intervalSeconds)), time);
        var decisions = new List<string>();

        foreach (var step in steps.Split(' '))
        {
            if (step == "take")
            {
                var d = bucket.TryTake();
                Assert.Equal(maxTokens, d.Limit);
                decisions.Add($"{(d.Allowed ? "ok" : "no")}/{d.Remaining}/{d.ResetSeconds}");
            }
            else
            {
                time.Advance(TimeSpan.FromSeconds(double.Parse(step, System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        Assert.Equal(expected, string.Join(' ', decisions));
    }

    [Fact]
    public void TryTake_Concurrent_NeverMoreThanTheTokens()
    {
        var bucket = new TokenBucket(new RateLimitConfig(1000, 1, TimeSpan.FromHours(1)), new ManualTimeProvider());
        var allowed = 0;

        Parallel.For(0, 50_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (bucket.TryTake().Allowed)
            {
                Interlocked.Increment(ref allowed);
            }
        });

        Assert.Equal(1000, allowed);
        Assert.Equal(0, bucket.Tokens);
    }

    [Fact]
    public void TryTake_ConcurrentAcrossFills_EachFillCountedOnce()
    {
        var time = new ManualTimeProvider();
        var bucket = new TokenBucket(new RateLimitConfig(100, 10, TimeSpan.FromSeconds(1)), time);
        var allowed = 0;

        for (var second = 0; second < 20; second++)
        {
            Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
            {
                if (bucket.TryTake().Allowed)
                {
                    Interlocked.Increment(ref allowed);
                }
            });
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(100 + (19 * 10), allowed); // the full bucket, then ten per second
    }

    [Fact]
    public void Create_SameConfig_KeepsTheBucket()
    {
        var time = new ManualTimeProvider();
        var config = new RateLimitConfig(5, 1, TimeSpan.FromSeconds(1));
        var first = TokenBucket.Create(config, null, time);
        first.TryTake();

        Assert.Same(first, TokenBucket.Create(config with { }, first, time));
        var changed = TokenBucket.Create(config with { MaxTokens = 6 }, first, time);
        Assert.NotSame(first, changed);
        Assert.Equal(6, changed.Tokens);
    }
}

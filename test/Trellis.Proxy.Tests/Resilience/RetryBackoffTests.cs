using Trellis.Proxy.Resilience;

namespace Trellis.Proxy.Tests.Resilience;

public sealed class RetryBackoffTests
{
    [Theory]
    // Envoy's defaults: base 25 ms, max 250 ms; the interval doubles per retry and stops at the max.
    [InlineData(null, 1, 25)]
    [InlineData(null, 2, 50)]
    [InlineData(null, 3, 100)]
    [InlineData(null, 4, 200)]
    [InlineData(null, 5, 250)]
    [InlineData(null, 6, 250)]
    [InlineData(null, 1000, 250)]
    [InlineData(100.0, 1, 100)]
    [InlineData(100.0, 4, 800)]
    [InlineData(100.0, 5, 1000)]
    // Sub-millisecond bases round up to 1 ms, as Envoy's do.
    [InlineData(0.2, 1, 1)]
    [InlineData(0.2, 5, 10)]
    public void UpperBoundMs_Retry_DoublesUpToTenTimesBase(double? baseMs, int retry, int expected)
    {
        var backoff = new RetryBackoff(baseMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null, _ => 0);

        Assert.Equal(expected, backoff.UpperBoundMs(retry));
    }

    [Theory]
    [InlineData(1, 0, 0)]
    [InlineData(1, 24, 24)]
    [InlineData(3, 99, 99)]
    [InlineData(7, 249, 249)]
    public void Delay_InjectedRandom_IsTheDrawInMilliseconds(int retry, int draw, int expectedMs)
    {
        var asked = 0;
        var backoff = new RetryBackoff(null, max =>
        {
            asked = max;
            return draw;
        });

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), backoff.Delay(retry));
        Assert.Equal(backoff.UpperBoundMs(retry), asked);
    }

    [Fact]
    public void Delay_Seeded_UniformOverTheRange()
    {
        var random = new Random(42);
        var backoff = new RetryBackoff(null, random.Next);
        var counts = new int[100];

        for (var i = 0; i < 100_000; i++)
        {
            counts[(int)backoff.Delay(3).TotalMilliseconds]++;
        }

        // [0, 100): every millisecond about 1000 times, none outside.
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
    }

    [Fact]
    public void UpperBoundMs_RetryZero_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetryBackoff(null, _ => 0).UpperBoundMs(0));

    [Fact]
    public void Max_Default_TenTimesBase()
    {
        var backoff = new RetryBackoff(null, _ => 0);

        Assert.Equal(TimeSpan.FromMilliseconds(25), backoff.Base);
        Assert.Equal(TimeSpan.FromMilliseconds(250), backoff.Max);
    }
}

namespace Trellis.Api.Tests;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("10s", 100_000_000L)]
    [InlineData("0.5s", 5_000_000L)]
    [InlineData("1.5ms", 15_000L)]
    [InlineData("2m", 1_200_000_000L)]
    [InlineData("1h", 36_000_000_000L)]
    [InlineData("1h30m", 54_000_000_000L)]
    [InlineData("100us", 1_000L)]
    [InlineData("10ns", 0L)]
    [InlineData("150ns", 2L)]
    [InlineData("0s", 0L)]
    public void TryParse_ValidDuration_GivesTicks(string text, long ticks)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromTicks(ticks), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("s")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("1.2.3s")]
    [InlineData("10 s")]
    public void TryParse_Invalid_ReturnsFalse(string text) => Assert.False(Durations.TryParse(text, out _));
}

using Trellis.Api.Eventing;
using Trellis.Eventing.Delivery;

namespace Trellis.Eventing.Tests.Delivery;

public sealed class DeliveryPolicyTests
{
    [Theory]
    [InlineData("exponential", "PT0.5S", 1, 1000)]
    [InlineData("exponential", "PT0.5S", 3, 4000)]
    [InlineData(null, "PT1S", 2, 4000)]
    [InlineData("linear", "PT0.5S", 1, 500)]
    [InlineData("linear", "PT0.5S", 3, 1500)]
    public void Backoff_FollowsKnative(string? policy, string delay, int retry, int expectedMs)
    {
        var p = DeliveryPolicy.From(new DeliverySpec { BackoffPolicy = policy, BackoffDelay = delay }, null);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), p.Backoff(retry));
    }

    [Fact]
    public void From_TriggerWinsFieldByField()
    {
        var p = DeliveryPolicy.From(
            new DeliverySpec { Retry = 5 },
            new DeliverySpec { Retry = 1, BackoffDelay = "PT2S", Timeout = "PT3S", DeadLetterSink = new EventDestination { Uri = "http://dls" } });

        Assert.Equal(5, p.Retry);
        Assert.Equal(TimeSpan.FromSeconds(2), p.BackoffDelay);
        Assert.Equal(TimeSpan.FromSeconds(3), p.Timeout);
        Assert.Equal("http://dls", p.DeadLetterSink?.Uri);
    }

    [Fact]
    public void From_Nothing_IsOneAttemptNoDelay()
    {
        var p = DeliveryPolicy.From(null, null);
        Assert.Equal(0, p.Retry);
        Assert.Equal(TimeSpan.Zero, p.Backoff(1));
        Assert.Equal(DeliveryPolicy.DefaultTimeout, p.Timeout);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(500, true)]
    [InlineData(503, true)]
    [InlineData(404, true)]
    [InlineData(408, true)]
    [InlineData(409, true)]
    [InlineData(429, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(413, false)]
    public void IsRetryable_IsKnativesSelectiveRetry(int? status, bool expected) => Assert.Equal(expected, DeliveryPolicy.IsRetryable(status));
}

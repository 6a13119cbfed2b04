using System.Collections.Concurrent;
using System.Text;
using CloudNative.CloudEvents;
using Trellis.Api.Eventing;
using Trellis.Eventing.Delivery;
using Trellis.Eventing.Sources;
using Trellis.Runtime.Tests;

namespace Trellis.Eventing.Tests.Sources;

public sealed class PingScheduleTests
{
    [Theory]
    [InlineData("*/5 * * * *", null, "2026-03-01T10:02:00Z", "2026-03-01T10:05:00Z")]
    [InlineData("0 9 * * *", "Europe/Paris", "2026-03-01T10:00:00Z", "2026-03-02T08:00:00Z")]
    [InlineData("CRON_TZ=America/New_York 0 9 * * *", null, "2026-03-01T00:00:00Z", "2026-03-01T14:00:00Z")]
    [InlineData("TZ=Europe/Paris 0 9 * * *", "America/New_York", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z")]
    [InlineData("@hourly", null, "2026-03-01T10:02:00Z", "2026-03-01T11:00:00Z")]
    // Paris skips 02:00-03:00 on 2026-03-29: the 02:30 firing happens once, at the jump (03:00 local = 01:00Z).
    [InlineData("30 2 * * *", "Europe/Paris", "2026-03-28T23:00:00Z", "2026-03-29T01:00:00Z")]
    public void Next_FollowsTheScheduleInItsZone(string schedule, string? zone, string after, string expected)
    {
        var (parsed, error) = PingSchedule.Parse(schedule, zone);
        Assert.Null(error);
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), parsed!.Next(DateTimeOffset.Parse(after, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Theory]
    [InlineData("* * *", null, "not a cron schedule")]
    [InlineData("0 9 * * *", "Mars/Olympus", "not a known time zone")]
    [InlineData("CRON_TZ=Europe/Paris", null, "no schedule")]
    public void Parse_Bad_SaysWhy(string schedule, string? zone, string reason)
    {
        var (parsed, error) = PingSchedule.Parse(schedule, zone);
        Assert.Null(parsed);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Runner_SendsKnativesPingEventAtEachTick_OnTheFakeClock()
    {
        var time = new ManualTimeProvider(); // 2025-01-01T00:00:00Z
        var sent = new ConcurrentQueue<CloudEvent>();
        var spec = new PingSourceSpec
        {
            Schedule = "* * * * *",
            Data = """{"message":"hello"}""",
            ContentType = "application/json",
            Sink = new EventDestination { Uri = "http://sink/" },
            CeOverrides = new CloudEventOverrides { Extensions = new Dictionary<string, string> { ["team"] = "blue" } },
        };
        var ids = 0;
        await using var runner = new PingRunner(new PingTarget("default", "every-minute", spec, PingSchedule.Parse(spec.Schedule, null).Schedule!, DeliveryTarget.Direct(new Uri("http://sink/"))),
            new RecordingSender(sent), time, () => $"id-{++ids}");

        await WaitAsync(() => time.PendingDelays().Count == 1);
        Assert.Equal(TimeSpan.FromSeconds(60), time.PendingDelays()[0]);
        time.Advance(TimeSpan.FromSeconds(59));
        await Task.Yield();
        Assert.Empty(sent);
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitAsync(() => sent.Count == 1);
        await WaitAsync(() => time.PendingDelays().Count == 1);
        time.Advance(TimeSpan.FromSeconds(60));
        await WaitAsync(() => sent.Count == 2);

        var first = sent.First();
        Assert.Equal(PingEvent.Type, first.Type);
        Assert.Equal("/apis/v1/namespaces/default/pingsources/every-minute", first.Source!.ToString());
        Assert.Equal(DateTimeOffset.Parse("2025-01-01T00:01:00Z", System.Globalization.CultureInfo.InvariantCulture), first.Time);
        Assert.Equal("application/json", first.DataContentType);
        Assert.Equal("""{"message":"hello"}""", Encoding.UTF8.GetString((byte[])first.Data!));
        Assert.Equal("blue", first["team"]);
        Assert.Equal(["id-1", "id-2"], sent.Select(e => e.Id));
        Assert.Equal(2, runner.Sent);
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(5);
        }
    }

    private sealed class RecordingSender(ConcurrentQueue<CloudEvent> sent) : IEventSender
    {
        public Task<AttemptResult> SendAsync(DeliveryTarget target, CloudEvent cloudEvent, TimeSpan timeout, CancellationToken cancellationToken)
        {
            sent.Enqueue(cloudEvent);
            return Task.FromResult(new AttemptResult(202, null, ReadOnlyMemory<byte>.Empty, null, []));
        }
    }
}

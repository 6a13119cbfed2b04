using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Resilience;

public sealed class OutlierDetectorTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan BaseEjection = TimeSpan.FromSeconds(30);

    // Outcomes in order for endpoint 0 of three, with the config's thresholds; whether it ends ejected.
    public static TheoryData<string, string, bool> Streaks() => new()
    {
        { "5xx=5", "503 503 503 503 503", true },
        { "5xx=5", "500 500 500 500 500", true },
        { "5xx=5", "503 503 503 503", false },
        { "5xx=5", "503 503 503 503 200 503 503 503 503", false },
        { "5xx=5", "503 503 503 503 404 503", false }, // any non-5xx answer ends the streak
        { "5xx=5", "connect-failure connect-failure reset per-try-timeout 503", true }, // local failures map to 503/504
        { "5xx=0", "503 503 503 503 503 503 503 503 503 503", false },
        { "5xx=1", "500", true },
        { "5xx=0 gateway=3", "502 503 504", true },
        { "5xx=0 gateway=3", "502 500 503 504", false }, // 500 is a 5xx but no gateway error: the streak ends
        { "5xx=0 gateway=3", "connect-failure connect-failure per-try-timeout", true },
        { "5xx=0 gateway=3", "502 503 200 504", false },
        // With the split, local failures go to their own streak and answers to theirs.
        { "split 5xx=5 local=3", "connect-failure connect-failure connect-failure", true },
        { "split 5xx=5 local=3", "connect-failure connect-failure 503 connect-failure", false }, // an answer proves a connection
        { "split 5xx=5 local=3", "503 503 503 503 connect-failure 503", true }, // 5xx streak untouched by the local failure
        { "split 5xx=5 local=0", "connect-failure connect-failure connect-failure connect-failure connect-failure", false },
        // A reset after the connection was made ends the local streak first (Envoy reports the connection): it never builds.
        { "split 5xx=5 local=2", "reset reset reset per-try-timeout", false },
        { "split 5xx=5 local=2", "connect-failure reset", false },
        { "split 5xx=5 local=2", "reset connect-failure", true },
    };

    [Theory]
    [MemberData(nameof(Streaks))]
    public void Record_Streaks_EjectAtTheThreshold(string config, string outcomes, bool ejected)
    {
        var (detector, endpoints, _) = Setup(Parse(config), 3);

        foreach (var outcome in outcomes.Split(' '))
        {
            detector.Record(endpoints[0], RetryPolicyTests.Outcome(outcome));
        }

        Assert.Equal(ejected, endpoints[0].Outlier.IsEjected);
        Assert.Equal(ejected ? 1 : 0, detector.EjectedCount);
        Assert.False(endpoints[1].Outlier.IsEjected);
    }

    [Fact]
    public void Review_EjectionTime_ReturnsAtTheFirstReviewAfterIt()
    {
        var (detector, endpoints, time) = Setup(new OutlierDetectionConfig { Interval = Interval, BaseEjectionTime = BaseEjection }, 3);
        time.Advance(TimeSpan.FromSeconds(5)); // ejected at 5 s, between reviews
        Eject(detector, endpoints[0]);

        time.Advance(TimeSpan.FromSeconds(5));  // review at 10 s
        time.Advance(Interval);                 // 20 s
        time.Advance(Interval);                 // 30 s: 25 s of 30 served
        Assert.True(endpoints[0].Outlier.IsEjected);

        time.Advance(Interval);                 // 40 s: 35 s ≥ 30 s
        Assert.False(endpoints[0].Outlier.IsEjected);
        Assert.Equal(0, detector.EjectedCount);
    }

    [Fact]
    public void Record_EjectedAgain_LastsLongerEachTime()
    {
        var (detector, endpoints, time) = Setup(new OutlierDetectionConfig { Interval = Interval, BaseEjectionTime = BaseEjection }, 3);
        var served = new List<int>();
        for (var round = 0; round < 3; round++)
        {
            Eject(detector, endpoints[0]);
            var reviews = 0;
            while (endpoints[0].Outlier.IsEjected)
            {
                time.Advance(Interval);
                reviews++;
            }

            served.Add(reviews);
        }

        // 30 s, then 60 s, then 90 s (whole intervals: ejected right at a review, returned at the review ending it).
        Assert.Equal([3, 6, 9], served);
        Assert.Equal(3, endpoints[0].Outlier.TimesEjected);
        Assert.Equal(3, endpoints[0].Outlier.Multiplier);
    }

    [Fact]
    public void Review_HealthyIntervals_MultiplierDecaysOneAtATime()
    {
        var (detector, endpoints, time) = Setup(new OutlierDetectionConfig { Interval = Interval, BaseEjectionTime = BaseEjection }, 3);
        Eject(detector, endpoints[0]);
        AdvanceUntilReturned(time, endpoints[0]);
        Eject(detector, endpoints[0]);
        AdvanceUntilReturned(time, endpoints[0]);
        Assert.Equal(2, endpoints[0].Outlier.Multiplier);

        time.Advance(Interval);
        Assert.Equal(1, endpoints[0].Outlier.Multiplier);
        time.Advance(Interval);
        Assert.Equal(0, endpoints[0].Outlier.Multiplier);
        time.Advance(Interval);
        Assert.Equal(0, endpoints[0].Outlier.Multiplier);

        // Healthy long enough: the next ejection is the base time again.
        Eject(detector, endpoints[0]);
        Assert.Equal(1, endpoints[0].Outlier.Multiplier);
    }

    [Fact]
    public void Record_LongEjectionsCapped_AtThreeHundredSeconds()
    {
        var (detector, endpoints, time) = Setup(new OutlierDetectionConfig { Interval = Interval, BaseEjectionTime = TimeSpan.FromSeconds(100) }, 3);
        for (var round = 0; round < 5; round++)
        {
            Eject(detector, endpoints[0]);
            var status = detector.Status(endpoints[0]);
            var ejectedFor = status.EjectedUntil!.Value - time.GetUtcNow();
            Assert.Equal(TimeSpan.FromSeconds(Math.Min(100 * (round + 1), 300)), ejectedFor);
            AdvanceUntilReturned(time, endpoints[0]);
        }

        Assert.Equal(4, endpoints[0].Outlier.Multiplier); // 100 × 4 = 400 is not below 300 + 100
    }

    [Theory]
    // endpoints, maxEjectionPercent, endpoints that fail → how many end ejected
    [InlineData(10, 10, 3, 1)]
    [InlineData(10, 20, 3, 2)]
    [InlineData(10, 100, 10, 10)]
    [InlineData(3, 10, 3, 1)]  // at least one
    [InlineData(3, 50, 3, 1)]  // 2 of 3 is 67 %
    [InlineData(4, 50, 4, 2)]
    public void Record_MaxEjectionPercent_BoundsTheEjected(int endpointCount, int maxPercent, int failing, int expected)
    {
        var (detector, endpoints, _) = Setup(new OutlierDetectionConfig { MaxEjectionPercent = maxPercent }, endpointCount);

        for (var i = 0; i < failing; i++)
        {
            Eject(detector, endpoints[i]);
        }

        Assert.Equal(expected, endpoints.Count(e => e.Outlier.IsEjected));
        Assert.Equal(expected, detector.EjectedCount);
    }

    [Fact]
    public void Record_EjectionRefused_StreakStartsOver()
    {
        var (detector, endpoints, _) = Setup(new OutlierDetectionConfig { MaxEjectionPercent = 10 }, 3);
        Eject(detector, endpoints[0]);

        for (var i = 0; i < 5; i++)
        {
            detector.Record(endpoints[1], AttemptOutcome.Response(503));
        }

        // Detected but over the limit: not ejected, and the streak counts from zero again (Envoy resets it).
        Assert.False(endpoints[1].Outlier.IsEjected);
        Assert.Equal(0, endpoints[1].Outlier.Consecutive5xx);
    }

    [Fact]
    public void Record_AlreadyEjected_StreakGoesOnUntilReturn()
    {
        var (detector, endpoints, time) = Setup(new OutlierDetectionConfig(), 3);
        Eject(detector, endpoints[0]);

        for (var i = 0; i < 7; i++)
        {
            detector.Record(endpoints[0], AttemptOutcome.Response(503)); // requests still in flight when it was ejected
        }

        Assert.Equal(7, endpoints[0].Outlier.Consecutive5xx);
        Assert.Equal(1, endpoints[0].Outlier.TimesEjected);

        AdvanceUntilReturned(time, endpoints[0]);
        Assert.Equal(0, endpoints[0].Outlier.Consecutive5xx); // every streak reset on return
    }

    [Fact]
    public void Status_EjectedEndpoint_ShowsUntilTimesAndStreaks()
    {
        var (detector, endpoints, time) = Setup(new OutlierDetectionConfig { Interval = Interval, BaseEjectionTime = BaseEjection }, 3);
        time.Advance(TimeSpan.FromSeconds(3));
        Eject(detector, endpoints[0]);
        detector.Record(endpoints[1], AttemptOutcome.Response(502));
        detector.Record(endpoints[1], AttemptOutcome.Response(502));

        var ejected = detector.Status(endpoints[0]);
        var serving = detector.Status(endpoints[1]);

        Assert.True(ejected.Ejected);
        Assert.Equal(time.GetUtcNow() + BaseEjection, ejected.EjectedUntil);
        Assert.Equal(1, ejected.TimesEjected);
        Assert.Equal(1, ejected.Multiplier);
        Assert.Equal(new OutlierStatus(false, null, 0, 0, 2, 2, 0), serving);
    }

    [Fact]
    public void Create_NextSnapshot_CarriesEjectionsAndRetiresThePrevious()
    {
        var time = new ManualTimeProvider();
        var config = new OutlierDetectionConfig { Interval = Interval, BaseEjectionTime = BaseEjection, MaxEjectionPercent = 100 };
        var endpoints = Endpoints(3);
        var first = OutlierDetector.Create(config, endpoints, null, time);
        Eject(first, endpoints[0]);

        // The next snapshot drops endpoint 2 and adds endpoint 3.
        var next = new[] { endpoints[0], endpoints[1], new EndpointState("10.0.0.4", 8080) };
        var second = OutlierDetector.Create(config, next, first, time);

        Assert.Equal(1, second.EjectedCount);
        Assert.Equal(1, time.ActiveTimers); // the first detector's timer is gone

        // A request still in flight on the old snapshot trips a streak: the new detector judges it.
        Eject(first, endpoints[1]);
        Assert.True(endpoints[1].Outlier.IsEjected);
        Assert.Equal(2, second.EjectedCount);

        // An endpoint the new snapshot dropped is not ejected any more.
        Eject(first, endpoints[2]);
        Assert.False(endpoints[2].Outlier.IsEjected);

        AdvanceUntilReturned(time, endpoints[0]);
        Assert.Equal(0, second.EjectedCount);
        second.Dispose();
        Assert.Equal(0, time.ActiveTimers);
    }

    [Fact]
    public void Record_ConcurrentFailures_OneEjection()
    {
        var (detector, endpoints, _) = Setup(new OutlierDetectionConfig { Consecutive5xxErrors = 5 }, 3);

        Parallel.For(0, 10_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ => detector.Record(endpoints[0], AttemptOutcome.Response(503)));

        Assert.True(endpoints[0].Outlier.IsEjected);
        Assert.Equal(1, endpoints[0].Outlier.TimesEjected);
        Assert.Equal(1, detector.EjectedCount);
    }

    private static void Eject(OutlierDetector detector, EndpointState endpoint)
    {
        for (var i = 0; i < detector.Config.Consecutive5xxErrors; i++)
        {
            detector.Record(endpoint, AttemptOutcome.Response(503));
        }
    }

    private static void AdvanceUntilReturned(ManualTimeProvider time, EndpointState endpoint)
    {
        for (var i = 0; i < 1000 && endpoint.Outlier.IsEjected; i++)
        {
            time.Advance(Interval);
        }

        Assert.False(endpoint.Outlier.IsEjected);
    }

    private static (OutlierDetector Detector, EndpointState[] Endpoints, ManualTimeProvider Time) Setup(OutlierDetectionConfig config, int count)
    {
        var time = new ManualTimeProvider();
        var endpoints = Endpoints(count);
        return (OutlierDetector.Create(config, endpoints, null, time), endpoints, time);
    }

    private static EndpointState[] Endpoints(int count) =>
        Enumerable.Range(0, count).Select(i => new EndpointState("10.0.0." + (i + 1), 8080)).ToArray();

    // "split 5xx=5 gateway=3 local=3"
    private static OutlierDetectionConfig Parse(string text)
    {
        var config = new OutlierDetectionConfig { Interval = Interval, BaseEjectionTime = BaseEjection, MaxEjectionPercent = 100 };
        foreach (var part in text.Split(' '))
        {
            var (name, value) = part.Contains('=') ? (part[..part.IndexOf('=')], int.Parse(part[(part.IndexOf('=') + 1)..], System.Globalization.CultureInfo.InvariantCulture)) : (part, 0);
            config = name switch
            {
                "split" => config with { SplitExternalLocalOriginErrors = true },
                "5xx" => config with { Consecutive5xxErrors = value },
                "gateway" => config with { ConsecutiveGatewayErrors = value },
                "local" => config with { ConsecutiveLocalOriginFailures = value },
                _ => throw new ArgumentException(part),
            };
        }

        return config;
    }
}

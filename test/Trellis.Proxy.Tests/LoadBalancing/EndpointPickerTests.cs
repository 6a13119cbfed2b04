using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.LoadBalancing;

public sealed class EndpointPickerTests
{
    private static readonly ConsistentHashConfig RingByHeader = new(HashKeyKind.Header, "x-user");
    private static readonly ConsistentHashConfig MaglevByHeader = new(HashKeyKind.Header, "x-user", Algorithm: HashAlgorithm.Maglev, MaglevTableSize: 251);

    public static TheoryData<string> Policies() => new() { "RoundRobin", "LeastRequest", "Random", "ring", "maglev" };

    [Theory]
    [MemberData(nameof(Policies))]
    public void Pick_Ejected_SkippedByEveryPolicy(string policy)
    {
        var (picker, endpoints, detector) = Setup(policy, 4);
        OutlierTesting.Eject(detector, endpoints[1], endpoints[2]);

        var picked = Picks(picker, 4000);

        Assert.DoesNotContain(endpoints[1], picked.Keys);
        Assert.DoesNotContain(endpoints[2], picked.Keys);
        Assert.Contains(endpoints[0], picked.Keys);
        Assert.Contains(endpoints[3], picked.Keys);
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Random")]
    [InlineData("LeastRequest")]
    public void Pick_Ejected_ServingOnesShareEvenly(string policy)
    {
        var (picker, endpoints, detector) = Setup(policy, 4);
        OutlierTesting.Eject(detector, endpoints[0]);

        var picked = Picks(picker, 30_000);

        Assert.All(endpoints[1..], e => Assert.InRange(picked.GetValueOrDefault(e), 9000, 11_000));
    }

    [Theory]
    // endpoints, ejected, minHealthPercent → what a pick sees: "all" (panic), "serving" or "none" (no healthy upstream)
    [InlineData(4, 1, 0, "serving")]
    [InlineData(4, 4, 0, "none")]     // threshold 0: never panic, so nothing serves
    [InlineData(1, 1, 0, "none")]
    [InlineData(4, 1, 75, "serving")] // 75 % serve: not below 75 %
    [InlineData(4, 2, 75, "all")]     // 50 % < 75 %: panic, every endpoint serves
    [InlineData(4, 4, 50, "all")]
    [InlineData(10, 5, 50, "serving")]
    [InlineData(10, 6, 50, "all")]
    public void Pick_FewServing_PanicAsEnvoy(int count, int ejected, int minHealthPercent, string expected)
    {
        var time = new ManualTimeProvider();
        var endpoints = ConsistentHashTests.Endpoints(count);
        var config = new OutlierDetectionConfig { MaxEjectionPercent = 100, MinHealthPercent = minHealthPercent };
        using var detector = OutlierDetector.Create(config, endpoints, null, time);
        for (var i = 0; i < ejected; i++)
        {
            for (var j = 0; j < 5; j++)
            {
                detector.Record(endpoints[i], AttemptOutcome.Response(503));
            }
        }

        var picker = new EndpointPicker(new ClusterConfig("c", []), endpoints, detector, new Random(7).Next, time);
        var picked = Picks(picker, 2000);

        switch (expected)
        {
            case "none":
                Assert.Equal(2000, picked.GetValueOrDefault(Null));
                break;
            case "all":
                Assert.True(picker.InPanic);
                Assert.Equal(count, picked.Count);
                break;
            default:
                Assert.False(picker.InPanic);
                Assert.Equal(count - ejected, picked.Count);
                Assert.All(picked.Keys, e => Assert.False(e.Outlier.IsEjected));
                break;
        }
    }

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("LeastRequest")]
    public void Pick_WarmingEndpoint_GetsItsShareOfWeight(string policy)
    {
        var time = new ManualTimeProvider();
        var old = ConsistentHashTests.Endpoints(3);
        var config = new ClusterConfig("c", [], Enum.Parse<LoadBalancerKind>(policy), WarmupDuration: TimeSpan.FromSeconds(100));
        _ = new EndpointPicker(config, old, null, new Random(1).Next, time); // the three join at 0 s
        time.Advance(TimeSpan.FromSeconds(200));
        var fresh = new EndpointState("10.9.0.1", 9080);
        var picker = new EndpointPicker(config, [.. old, fresh], null, new Random(1).Next, time); // joins at 200 s
        time.Advance(TimeSpan.FromSeconds(50)); // half-way: weight 0.5 against 1, 1, 1

        var picked = Picks(picker, 35_000);

        Assert.InRange(picked.GetValueOrDefault(fresh) / 35_000.0, 0.5 / 3.5 * 0.85, 0.5 / 3.5 * 1.15);
        Assert.All(old, e => Assert.InRange(picked.GetValueOrDefault(e) / 35_000.0, 1 / 3.5 * 0.9, 1 / 3.5 * 1.1));

        // Past the window: round robin and least request as usual, an even share.
        time.Advance(TimeSpan.FromSeconds(50));
        picked = Picks(picker, 40_000);
        Assert.All((EndpointState[])[.. old, fresh], e => Assert.InRange(picked.GetValueOrDefault(e), 9000, 11_000));
    }

    [Fact]
    public void Pick_WarmingRandomPolicy_Ignored()
    {
        var time = new ManualTimeProvider();
        var endpoints = ConsistentHashTests.Endpoints(2);
        var config = new ClusterConfig("c", [], LoadBalancerKind.Random, WarmupDuration: TimeSpan.FromSeconds(100));
        endpoints[0].Join(time.GetTimestamp() - TimeSpan.FromSeconds(500).Ticks);
        var picker = new EndpointPicker(config, endpoints, null, new Random(3).Next, time); // endpoint 1 joins now

        var picked = Picks(picker, 20_000);

        Assert.InRange(picked[endpoints[1]], 9000, 11_000); // Envoy's random has no slow start
    }

    [Fact]
    public void Pick_RoundRobin_InTurn()
    {
        var (picker, endpoints, _) = Setup("RoundRobin", 3);

        Assert.Equal([endpoints[0], endpoints[1], endpoints[2], endpoints[0]], Enumerable.Range(0, 4).Select(_ => picker.Pick()!).ToArray());
    }

    [Fact]
    public void Pick_LeastRequest_PrefersTheLessBusyOfTwo()
    {
        var draws = new Queue<int>([0, 0]); // endpoint 0, then endpoint 1 (0 shifted past the first)
        var endpoints = ConsistentHashTests.Endpoints(3);
        var picker = new EndpointPicker(new ClusterConfig("c", [], LoadBalancerKind.LeastRequest), endpoints, null, _ => draws.Dequeue(), new ManualTimeProvider());
        endpoints[0].RequestStarted();

        Assert.Same(endpoints[1], picker.Pick());
    }

    [Theory]
    [InlineData("ring")]
    [InlineData("maglev")]
    public void Pick_Hash_SameKeySameEndpointAndNoKeyRandom(string policy)
    {
        var (picker, _, _) = Setup(policy, 5);
        var hash = HashKey.Hash("jason".AsSpan());

        Assert.True(picker.UsesHash);
        Assert.Single(Enumerable.Range(0, 100).Select(_ => picker.Pick(hash)).Distinct());
        Assert.True(Enumerable.Range(0, 200).Select(_ => picker.Pick()).Distinct().Count() > 1);
    }

    [Fact]
    public void Pick_NoEndpoints_Null() =>
        Assert.Null(new EndpointPicker(new ClusterConfig("c", []), [], null, _ => 0, new ManualTimeProvider()).Pick());

    [Fact]
    public void Constructor_KeptEndpoint_KeepsItsJoinTime()
    {
        var time = new ManualTimeProvider();
        var endpoint = new EndpointState("10.0.0.1", 80);
        _ = new EndpointPicker(new ClusterConfig("c", []), [endpoint], null, _ => 0, time);
        var joined = endpoint.JoinedAt;
        time.Advance(TimeSpan.FromSeconds(30));

        _ = new EndpointPicker(new ClusterConfig("c", []), [endpoint], null, _ => 0, time);

        Assert.Equal(joined, endpoint.JoinedAt);
    }

    private static readonly EndpointState Null = new("null", 0);

    private static Dictionary<EndpointState, int> Picks(EndpointPicker picker, int count)
    {
        var random = new Random(11);
        var picked = new Dictionary<EndpointState, int>();
        for (var i = 0; i < count; i++)
        {
            var endpoint = picker.UsesHash ? picker.Pick((ulong)random.NextInt64()) : picker.Pick();
            picked[endpoint ?? Null] = picked.GetValueOrDefault(endpoint ?? Null) + 1;
        }

        return picked;
    }

    private static (EndpointPicker Picker, EndpointState[] Endpoints, OutlierDetector Detector) Setup(string policy, int count)
    {
        var endpoints = ConsistentHashTests.Endpoints(count);
        var config = policy switch
        {
            "ring" => new ClusterConfig("c", [], ConsistentHash: RingByHeader),
            "maglev" => new ClusterConfig("c", [], ConsistentHash: MaglevByHeader),
            _ => new ClusterConfig("c", [], Enum.Parse<LoadBalancerKind>(policy)),
        };
        var detector = OutlierDetector.Create(new OutlierDetectionConfig { MaxEjectionPercent = 100 }, endpoints, null, new ManualTimeProvider());
        return (new EndpointPicker(config, endpoints, detector, new Random(5).Next, new ManualTimeProvider()), endpoints, detector);
    }
}

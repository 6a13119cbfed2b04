using System.Globalization;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;

namespace Trellis.Proxy.Tests.LoadBalancing;

public sealed class ConsistentHashTests
{
    private const int Keys = 50_000;

    public static TheoryData<string, int> Tables() => new()
    {
        { "ring", 3 },
        { "ring", 10 },
        { "maglev", 3 },
        { "maglev", 10 },
    };

    [Theory]
    [InlineData("", 0xEF46DB3751D8E999UL)] // the xxHash64 reference value of the empty input, seed 0
    public void Hash_ReferenceVector_IsXxHash64(string key, ulong expected) => Assert.Equal(expected, HashKey.Hash(key.AsSpan()));

    [Fact]
    public void Hash_CharsAndUtf8Bytes_Agree()
    {
        foreach (var key in new[] { "jason", "ünïcödé", new string('k', 2000) })
        {
            Assert.Equal(HashKey.Hash(System.Text.Encoding.UTF8.GetBytes(key)), HashKey.Hash(key.AsSpan()));
        }
    }

    [Theory]
    [InlineData("10.0.0.1", 8080, "10.0.0.1:8080")]
    [InlineData("::1", 9080, "[::1]:9080")]
    [InlineData("reviews.default", 80, "reviews.default:80")]
    public void EndpointKey_Address_AsEnvoyWritesIt(string address, int port, string expected) =>
        Assert.Equal(expected, HashKey.EndpointKey(new EndpointState(address, port)));

    [Theory]
    [InlineData("session=abc", "session", "abc")]
    [InlineData("a=1; session=abc; b=2", "session", "abc")]
    [InlineData("a=1;session=\"abc\"", "session", "abc")]
    [InlineData("session=first; session=second", "session", "first")]
    [InlineData("xsession=1; session=2", "session", "2")]
    [InlineData("session=", "session", "")]
    [InlineData("a=1; b=2", "session", null)]
    [InlineData("", "session", null)]
    [InlineData("Session=1", "session", null)] // names are case-sensitive
    public void TryGetCookie_Field_FindsTheNamedValue(string field, string name, string? expected)
    {
        var found = HashKey.TryGetCookie(field, name, out var value);

        Assert.Equal(expected is not null, found);
        Assert.Equal(expected ?? string.Empty, value.ToString());
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Pick_SameKey_SameEndpointWhateverTheListingOrder(string algorithm, int count)
    {
        var endpoints = Endpoints(count);
        var table = Build(algorithm, endpoints);
        var reversed = Build(algorithm, endpoints.Reverse().ToArray());

        for (var i = 0; i < 2000; i++)
        {
            var hash = KeyHash(i);
            Assert.Same(table.Pick(hash, 0, false), table.Pick(hash, 0, false));
            Assert.Same(table.Pick(hash, 0, false), reversed.Pick(hash, 0, false));
        }
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Pick_ManyKeys_SpreadEvenly(string algorithm, int count)
    {
        var endpoints = Endpoints(count);
        var table = Build(algorithm, endpoints);

        var shares = Shares(table, endpoints, skipEjected: false);

        // Ring hash at 1024 points spreads within a few percent of the mean; Maglev within a fraction of one.
        var tolerance = algorithm == "ring" ? 0.25 : 0.05;
        Assert.All(shares, share => Assert.InRange(share, (1 - tolerance) / count, (1 + tolerance) / count));
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Pick_OneEndpointRemoved_MovesOnlyItsShare(string algorithm, int count)
    {
        var endpoints = Endpoints(count);
        var before = Build(algorithm, endpoints);
        var removed = endpoints[count / 2];
        var after = Build(algorithm, endpoints.Where(e => e != removed).ToArray(), before);

        var ownKeys = 0;
        var movedOthers = 0;
        for (var i = 0; i < Keys; i++)
        {
            var hash = KeyHash(i);
            var was = before.Pick(hash, 0, false);
            var now = after.Pick(hash, 0, false);
            Assert.NotSame(removed, now);
            if (was == removed)
            {
                ownKeys++;
            }
            else if (was != now)
            {
                movedOthers++;
            }
        }

        // The removed endpoint's keys had to move; the others' stay where they were: all of them on a ring that kept
        // its points per endpoint, all but a few on Maglev, which refills a few other slots.
        Assert.InRange(ownKeys, Keys / count / 2, Keys * 2 / count);
        Assert.InRange(movedOthers / (double)(Keys - ownKeys), 0, algorithm == "ring" ? 0 : 0.03);
    }

    [Fact]
    public void Pick_EndpointAddedToARing_TakesOnlyKeysFromOthers()
    {
        var endpoints = Endpoints(4);
        var before = new RingHashTable(endpoints, 1024);
        var added = new EndpointState("10.2.0.1", 9080);
        var after = new RingHashTable([.. endpoints, added], 1024, before);

        var moved = 0;
        for (var i = 0; i < Keys; i++)
        {
            var now = after.Pick(KeyHash(i), 0, false);
            if (now != before.Pick(KeyHash(i), 0, false))
            {
                Assert.Same(added, now); // a key that moves goes to the new endpoint, never between old ones
                moved++;
            }
        }

        Assert.InRange(moved / (double)Keys, 0.1, 0.3); // about a fifth
    }

    [Theory]
    // endpoints, minimum ring size, the previous points per endpoint → points per endpoint
    [InlineData(3, 1024, null, 342)]    // Envoy's ceil(1024 / 3)
    [InlineData(2, 1024, 342, 342)]     // one removed: 684 points, within [512, 2048]: kept
    [InlineData(1, 1024, 342, 1024)]    // 342 < 512: recomputed
    [InlineData(5, 1024, 342, 342)]     // 1710 ≤ 2048: kept
    [InlineData(6, 1024, 342, 171)]     // 2052 > 2048: recomputed
    [InlineData(7, 1024, 342, 147)]
    [InlineData(5000, 1024, null, 1)]
    [InlineData(5000, 1024, 1, 1)]
    public void PointsPerEndpointFor_Previous_KeptWithinHalfAndTwiceTheMinimum(int endpoints, int minimum, int? previous, int expected) =>
        Assert.Equal(expected, RingHashTable.PointsPerEndpointFor(endpoints, minimum, previous));

    [Theory]
    [MemberData(nameof(Tables))]
    public void Pick_EndpointEjected_OnlyItsKeysMove(string algorithm, int count)
    {
        var endpoints = Endpoints(count);
        var table = Build(algorithm, endpoints);
        var ejected = endpoints[0];
        var before = Enumerable.Range(0, Keys).Select(i => table.Pick(KeyHash(i), 0, true)).ToArray();
        OutlierTesting.Eject(ejected);

        var spread = new Dictionary<EndpointState, int>();
        for (var i = 0; i < Keys; i++)
        {
            var now = table.Pick(KeyHash(i), 0, skipEjected: true);
            Assert.NotSame(ejected, now);
            if (before[i] != ejected)
            {
                Assert.Same(before[i], now);
            }
            else
            {
                spread[now] = spread.GetValueOrDefault(now) + 1;
            }
        }

        // Its keys go to more than one endpoint rather than all to a single neighbour.
        Assert.True(spread.Count > Math.Min(2, count - 1) - 1);
        // Without skipping (panic), the ejected endpoint keeps its keys.
        Assert.Equal(before.Count(e => e == ejected), Enumerable.Range(0, Keys).Count(i => table.Pick(KeyHash(i), 0, false) == ejected));
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Pick_Retry_UsuallyAnotherEndpoint(string algorithm, int count)
    {
        var table = Build(algorithm, Endpoints(count));

        var moved = Enumerable.Range(0, 5000).Count(i => table.Pick(KeyHash(i), 1, false) != table.Pick(KeyHash(i), 0, false));

        // A ring retry moves one point along (often the same endpoint's neighbour point is another endpoint's);
        // Maglev's mutated hash lands anywhere.
        Assert.InRange(moved / 5000.0, 0.4, 1.0);
    }

    [Theory]
    [InlineData(1, 1024, 1024)]
    [InlineData(3, 1024, 1026)]  // ceil(1024 / 3) = 342 points each
    [InlineData(10, 1024, 1030)]
    [InlineData(3, 1, 3)]
    [InlineData(2000, 1024, 2000)] // at least one point per endpoint
    public void RingSize_Endpoints_WholePointsPerEndpoint(int count, int minimum, int expected) =>
        Assert.Equal(expected, new RingHashTable(Endpoints(count), minimum).Size);

    [Fact]
    public void Maglev_EndpointsShareTheTable_WithinOneSlot()
    {
        var endpoints = Endpoints(7);
        var table = new MaglevTable(endpoints, 65537);

        var slots = new Dictionary<EndpointState, int>();
        for (ulong slot = 0; slot < 65537; slot++)
        {
            var owner = table.Pick(slot, 0, false);
            slots[owner] = slots.GetValueOrDefault(owner) + 1;
        }

        Assert.Equal(7, slots.Count);
        Assert.InRange(slots.Values.Max() - slots.Values.Min(), 0, 1);
    }

    [Theory]
    [InlineData(65537, true)]
    [InlineData(251, true)]
    [InlineData(2, true)]
    [InlineData(65536, false)]
    [InlineData(1, false)]
    [InlineData(0, false)]
    [InlineData(-7, false)]
    [InlineData(9, false)]
    public void IsPrime_TableSizes_OnlyPrimes(int size, bool prime) => Assert.Equal(prime, MaglevTable.IsPrime(size));

    [Fact]
    public void Maglev_NotPrime_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new MaglevTable(Endpoints(3), 65536));

    [Fact]
    public void Build_Config_ChoosesTheAlgorithm()
    {
        Assert.IsType<RingHashTable>(ConsistentHashTables.Build(new ConsistentHashConfig(HashKeyKind.Header, "x-user"), Endpoints(2)));
        Assert.IsType<MaglevTable>(ConsistentHashTables.Build(
            new ConsistentHashConfig(HashKeyKind.Header, "x-user", Algorithm: HashAlgorithm.Maglev, MaglevTableSize: 251), Endpoints(2)));
        Assert.Null(ConsistentHashTables.Build(new ConsistentHashConfig(HashKeyKind.SourceIp), []));
    }

    internal static EndpointState[] Endpoints(int count) =>
        Enumerable.Range(0, count).Select(i => new EndpointState("10.1." + (i / 250) + "." + ((i % 250) + 1), 9080)).ToArray();

    private static IConsistentHashTable Build(string algorithm, EndpointState[] endpoints, IConsistentHashTable? previous = null) =>
        algorithm == "ring" ? new RingHashTable(endpoints, 1024, previous as RingHashTable) : new MaglevTable(endpoints, 65537);

    private static ulong KeyHash(int i) => HashKey.Hash(("user-" + i.ToString(CultureInfo.InvariantCulture)).AsSpan());

    private static double[] Shares(IConsistentHashTable table, EndpointState[] endpoints, bool skipEjected)
    {
        var counts = endpoints.ToDictionary(e => e, _ => 0);
        for (var i = 0; i < Keys; i++)
        {
            counts[table.Pick(KeyHash(i), 0, skipEjected)]++;
        }

        return endpoints.Select(e => counts[e] / (double)Keys).ToArray();
    }
}

using CloudNative.CloudEvents;
using Trellis.Api.Eventing;
using Trellis.Eventing.Filtering;

namespace Trellis.Eventing.Tests.Filtering;

public sealed class EventFilterTests
{
    private static readonly CloudEvent Event = new()
    {
        Id = "1",
        Source = new Uri("https://example.com/orders"),
        Type = "com.example.order.created",
        Subject = "order-42",
    };

    private static TriggerSpec Trigger(TriggerFilter? filter = null, params SubscriptionsApiFilter[] filters) =>
        new() { Broker = "default", Filter = filter, Filters = filters, Subscriber = new EventDestination { Uri = "http://x" } };

    private static bool Matches(TriggerSpec trigger)
    {
        var (filter, errors) = EventFilter.Compile(trigger);
        Assert.Empty(errors);
        return filter!.Matches(Event);
    }

    private static TriggerFilter Attributes(params (string, string)[] pairs) => new() { Attributes = pairs.ToDictionary(p => p.Item1, p => p.Item2) };

    private static Dictionary<string, string> Map(string k, string v) => new() { [k] = v };

    [Fact]
    public void NoFilter_PassesEverything() => Assert.True(Matches(Trigger()));

    [Theory]
    [InlineData("type", "com.example.order.created", true)]
    [InlineData("type", "com.example.order", false)]
    [InlineData("type", "", true)]
    [InlineData("missing", "x", false)]
    [InlineData("missing", "", true)]
    [InlineData("specversion", "1.0", true)]
    public void Attributes_AreExact_EmptyMeansAny(string name, string value, bool expected) =>
        Assert.Equal(expected, Matches(Trigger(Attributes((name, value)))));

    public static TheoryData<SubscriptionsApiFilter, bool> Dialects() => new()
    {
        { new() { Exact = Map("type", "com.example.order.created") }, true },
        { new() { Exact = Map("type", "com.example") }, false },
        { new() { Prefix = Map("type", "com.example.") }, true },
        { new() { Prefix = Map("subject", "invoice") }, false },
        { new() { Suffix = Map("type", ".created") }, true },
        { new() { Suffix = Map("source", "/orders") }, true },
        { new() { Suffix = Map("missing", "x") }, false },
        { new() { Not = new() { Exact = Map("type", "com.example.order.created") } }, false },
        { new() { All = [new() { Prefix = Map("type", "com.") }, new() { Exact = Map("subject", "order-42") }] }, true },
        { new() { All = [new() { Prefix = Map("type", "com.") }, new() { Exact = Map("subject", "order-1") }] }, false },
        { new() { Any = [new() { Exact = Map("subject", "order-1") }, new() { Exact = Map("subject", "order-42") }] }, true },
        { new() { Cesql = "type LIKE '%.created' AND subject = 'order-42'" }, true },
        { new() { Cesql = "missingext = 'x'" }, false },
        { new() { Cesql = "LENGTH(subject)" }, false },
    };

    [Theory]
    [MemberData(nameof(Dialects))]
    public void Filters_DialectsMatchAsKnative(SubscriptionsApiFilter filter, bool expected) => Assert.Equal(expected, Matches(Trigger(null, filter)));

    [Fact]
    public void Filters_WhenPresent_FilterAttributesAreIgnored() =>
        Assert.True(Matches(Trigger(Attributes(("type", "other")), new SubscriptionsApiFilter { Prefix = Map("type", "com.") })));

    [Fact]
    public void Filters_AllMustPass() =>
        Assert.False(Matches(Trigger(null, new() { Prefix = Map("type", "com.") }, new() { Exact = Map("subject", "nope") })));

    public static TheoryData<SubscriptionsApiFilter, string> Bad() => new()
    {
        { new() { Cesql = "type = " }, "spec.filters[0].cesql: Parse error" },
        { new() { Cesql = "NOPE(type)" }, "MissingFunction" },
        { new() { Exact = new Dictionary<string, string> { ["type"] = "a", ["source"] = "b" } }, "exactly one attribute" },
        { new() { Prefix = Map("type", "") }, "must not be empty" },
        { new() { Exact = Map("Type", "x") }, "not a CloudEvents attribute name" },
        { new() { Exact = Map("type", "x"), Cesql = "true" }, "one dialect per filter" },
        { new(), "needs one dialect" },
        { new() { Not = new() { Cesql = "(" } }, "spec.filters[0].not.cesql" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public void Compile_BadFilter_ReportsWhere(SubscriptionsApiFilter filter, string message)
    {
        var (compiled, errors) = EventFilter.Compile(Trigger(null, filter));

        Assert.Null(compiled);
        Assert.Contains(errors, e => e.Contains(message, StringComparison.Ordinal));
    }
}

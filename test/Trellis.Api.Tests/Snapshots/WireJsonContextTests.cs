using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Trellis.Api.Metering;
using Trellis.Api.Snapshots;

namespace Trellis.Api.Tests.Snapshots;

/// <summary>
/// The proxy's wire JSON is source-generated (<see cref="WireJsonContext"/>) so the Native AOT proxy needs no
/// reflection; it must read and write exactly what the reflection-based settings did (docs/protocol.md).
/// </summary>
public sealed class WireJsonContextTests
{
    /// <summary>The wire settings as they were before source generation: the reference the context is held to.</summary>
    private static readonly JsonSerializerOptions Reflection = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    public static TheoryData<Type> WireTypes()
    {
        var data = new TheoryData<Type>();
        foreach (var type in Reachable())
        {
            data.Add(type);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WireTypes))]
    public void Context_EveryWireType_HasTheReflectionContract(Type type)
    {
        var generated = WireJsonContext.Default.GetTypeInfo(type);

        Assert.NotNull(generated);
        var reflection = Reflection.GetTypeInfo(type);
        Assert.Equal(reflection.Kind, generated.Kind);
        Assert.Equal(
            reflection.Properties.Select(p => $"{p.Name}:{p.PropertyType.Name}").Order(StringComparer.Ordinal),
            generated.Properties.Select(p => $"{p.Name}:{p.PropertyType.Name}").Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(WireTypes))]
    public void Context_EveryEnum_IsWrittenInCamelCase(Type type)
    {
        if (!type.IsEnum)
        {
            return;
        }

        var first = Enum.GetValues(type).GetValue(0)!;
        var written = JsonSerializer.Serialize(first, type, WireJsonContext.Default);

        Assert.Equal(JsonSerializer.Serialize(first, type, Reflection), written);
        Assert.True(char.IsLower(written[1]), $"{type.Name} is written as {written}: add CamelCaseEnum<{type.Name}> to WireJsonContext's converters");
    }

    [Fact]
    public void Snapshot_EveryFieldSet_SameJsonBothWaysAsReflection()
    {
        var snapshot = Rich();

        var generated = JsonSerializer.Serialize(snapshot, WireJsonContext.Default.ProxySnapshot);
        var reflection = JsonSerializer.Serialize(snapshot, Reflection);
        Assert.Equal(reflection, generated);

        var read = JsonSerializer.Deserialize(reflection, WireJsonContext.Default.ProxySnapshot);
        Assert.Equal(reflection, JsonSerializer.Serialize(read, Reflection));
    }

    [Fact]
    public void Snapshot_MissingOptionalFields_TakeTheRecordDefaults()
    {
        const string json = """
            {"version":"1","listeners":[{"name":"l","address":"127.0.0.1","port":80,"kind":"GATEWAY","routeTable":"rt"}],
             "routeTables":[{"name":"rt","virtualHosts":[{"name":"v","domains":["*"],"routes":[{"name":"r","matches":[],"clusters":[],"redirect":{}}]}]}],
             "clusters":[{"name":"c","endpoints":[]}]}
            """;

        var generated = JsonSerializer.Deserialize(json, WireJsonContext.Default.ProxySnapshot)!;
        var reflection = JsonSerializer.Deserialize<ProxySnapshot>(json, Reflection)!;

        Assert.Equal(JsonSerializer.Serialize(reflection, Reflection), JsonSerializer.Serialize(generated, Reflection));
        Assert.Equal(HttpProtocols.Http1AndHttp2, generated.Listeners[0].Protocols);
        Assert.Equal(301, generated.RouteTables[0].VirtualHosts[0].Routes[0].Redirect!.StatusCode);
        Assert.Equal(LoadBalancerKind.RoundRobin, generated.Clusters[0].LoadBalancer);
    }

    [Theory]
    [InlineData("""{"version":"1","listeners":[{"name":"l","kind":"nosuch"}],"routeTables":[],"clusters":[]}""")]
    [InlineData("""{"version":"1","listeners":[{"port":"eighty"}],"routeTables":[],"clusters":[]}""")]
    [InlineData("""{"version":""")]
    public void Snapshot_BadJson_ThrowsJsonException(string json) =>
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, WireJsonContext.Default.ProxySnapshot));

    [Fact]
    public void WireJsonOptions_OtherApiTypes_StillSerializeByReflection()
    {
        var json = JsonSerializer.Serialize(new { kind = LoadBalancerKind.LeastRequest, at = (string?)null }, WireJson.Options);

        Assert.Equal("""{"kind":"leastRequest"}""", json);
    }

    private static ProxySnapshot Rich()
    {
        var match = new StringMatchConfig(StringMatchKind.Prefix, "/a");
        var headers = new HeaderOperationsConfig(new Dictionary<string, string> { ["x-s"] = "1" }, new Dictionary<string, string> { ["x-a"] = "2" }, ["x-r"]);
        return new ProxySnapshot(
            "v7",
            [new ListenerConfig("gw", "127.0.0.1", 8080, ListenerKind.Gateway, "rt", "w", HttpProtocols.Http2, new ListenerTlsConfig("cert", "key"),
                new InstanceServingConfig(2, 20, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)))],
            [new RouteTableConfig("rt", [new VirtualHostConfig("vh", ["*.example.com", "a:80"], [
                new RouteConfig(
                    "r",
                    [new RouteMatchConfig(match, new StringMatchConfig(StringMatchKind.Exact, "GET"), new StringMatchConfig(StringMatchKind.Regex, "a.*"),
                        new Dictionary<string, StringMatchConfig> { ["x-h"] = new(StringMatchKind.Present, "") },
                        new Dictionary<string, StringMatchConfig> { ["q"] = match },
                        new Dictionary<string, StringMatchConfig> { ["x-w"] = match }, IgnoreUriCase: true, Port: 8080)],
                    [new WeightedClusterConfig("c", 90), new WeightedClusterConfig("d", 10)],
                    new RedirectConfig("/b", "b", "https", 8443, 308),
                    new RewriteConfig("/c", "c"),
                    headers,
                    headers,
                    TimeSpan.FromMilliseconds(1500)),
            ])])],
            [new ClusterConfig("c", [new EndpointConfig("10.0.0.1", 80, new Dictionary<string, string> { ["version"] = "v1" })],
                LoadBalancerKind.LeastRequest, UpstreamProtocol.Http2, new ActivationConfig(10, TimeSpan.FromSeconds(30), 4))]);
    }

    /// <summary>Every type the context's roots reach through properties, element and value types.</summary>
    private static IEnumerable<Type> Reachable()
    {
        // The context's [JsonSerializable] roots (attributes keep no type at run time, so they are listed again here).
        Type[] roots = [typeof(ProxySnapshot), typeof(ProxyHello), typeof(ProxyAck), typeof(DemandReport), typeof(LoadReport), typeof(MeteringReport), typeof(Explain.RouteExplanation)];
        var seen = new HashSet<Type>();
        var pending = new Queue<Type>(roots);
        while (pending.TryDequeue(out var type))
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (type.IsPrimitive || type == typeof(string) || type == typeof(TimeSpan) || type == typeof(DateTimeOffset) || !seen.Add(type))
            {
                continue;
            }

            if (type.IsGenericType)
            {
                foreach (var argument in type.GetGenericArguments())
                {
                    pending.Enqueue(argument);
                }

                continue;
            }

            if (type.Namespace?.StartsWith("Trellis.", StringComparison.Ordinal) == true)
            {
                yield return type;
                foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    pending.Enqueue(property.PropertyType);
                }
            }
        }
    }
}

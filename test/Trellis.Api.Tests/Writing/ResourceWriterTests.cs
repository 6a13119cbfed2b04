using System.Text.Json.Nodes;
using Trellis.Api.Networking;
using Trellis.Api.Reading;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api.Tests.Writing;

public sealed class ResourceWriterTests
{
    public static TheoryData<string> AllConformance => Conformance.Files("istio-bookinfo", "gateway-api");

    /// <summary>
    /// The writer's output against the original document, not against itself: a field the reader or
    /// the writer drops (or renames, or changes) shows as a difference from the upstream file. Only
    /// nulls and empty lists or maps may differ: the writer leaves them out, and they read back the same.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllConformance))]
    public void ToJsonObject_ConformanceFile_EqualsTheOriginalDocument(string file)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Conformance.PathOf(file))));
        var originals = stream.Documents.Select(d => YamlBinder.ToJsonNode(d.RootNode)).OfType<JsonObject>().ToList();
        var resources = Conformance.Read(file).Resources;

        Assert.Equal(originals.Count, resources.Count);
        for (var i = 0; i < originals.Count; i++)
        {
            var (original, written) = (WithoutEmpties(originals[i]), WithoutEmpties(ResourceWriter.ToJsonObject(resources[i])));
            Assert.True(JsonNode.DeepEquals(original, written), $"document {i + 1}:\noriginal {original?.ToJsonString()}\nwritten  {written?.ToJsonString()}");
        }
    }

    [Theory]
    [MemberData(nameof(AllConformance))]
    public void ToJson_ThenRead_GivesEqualResources(string file)
    {
        var first = Conformance.Read(file).Resources;

        foreach (var resource in first)
        {
            var json = ResourceWriter.ToJson(resource);
            var again = ResourceReader.Read(json, "roundtrip.json");

            Assert.True(again.Diagnostics.ExceptNotEnforced().Count == 0, string.Join("\n", again.Diagnostics.ExceptNotEnforced()));
            var copy = Assert.Single(again.Resources);
            Assert.Equal(json, ResourceWriter.ToJson(copy));
            Assert.Equal(resource.Metadata, copy.Metadata with { Labels = resource.Metadata.Labels, Annotations = resource.Metadata.Annotations });
            Assert.True(JsonNode.DeepEquals(ResourceWriter.ToJsonObject(resource), ResourceWriter.ToJsonObject(copy)));
        }
    }

    [Theory]
    [MemberData(nameof(AllConformance))]
    public void ToYaml_ThenRead_GivesEqualResources(string file)
    {
        foreach (var resource in Conformance.Read(file).Resources)
        {
            var yaml = ResourceWriter.ToYaml(resource);
            var again = ResourceReader.Read(yaml, "roundtrip.yaml");

            Assert.True(again.Diagnostics.ExceptNotEnforced().Count == 0, yaml + "\n" + string.Join("\n", again.Diagnostics.ExceptNotEnforced()));
            Assert.Equal(ResourceWriter.ToJson(resource), ResourceWriter.ToJson(Assert.Single(again.Resources)));
        }
    }

    [Fact]
    public void ToJsonObject_VirtualService_UsesUpstreamNamesAndOmitsNulls()
    {
        var resource = new Resource(
            "networking.istio.io/v1",
            "VirtualService",
            new ObjectMeta { Name = "reviews" },
            new VirtualServiceSpec
            {
                Hosts = ["reviews"],
                Http =
                [
                    new HttpRoute
                    {
                        Match = [new HttpMatchRequest { Headers = new Dictionary<string, StringMatch> { ["end-user"] = new() { Exact = "jason" } } }],
                        Route = [new HttpRouteDestination { Destination = new Destination { Host = "reviews", Subset = "v2" } }],
                        Timeout = "0.5s",
                    },
                ],
            });

        var json = ResourceWriter.ToJson(resource);

        Assert.Equal(
            """{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"reviews"},"spec":{"hosts":["reviews"],"http":[{"match":[{"headers":{"end-user":{"exact":"jason"}}}],"route":[{"destination":{"host":"reviews","subset":"v2"}}],"timeout":"0.5s"}]}}""",
            json);
    }

    [Fact]
    public void ToYaml_StringsThatLookLikeOtherTypes_AreQuoted()
    {
        var resource = new Resource("v1", "ConfigMap", new ObjectMeta { Name = "c" }, new Workloads.ConfigMapData
        {
            Data = new Dictionary<string, string> { ["port"] = "8080", ["flag"] = "true", ["empty"] = "", ["text"] = "plain", ["multi"] = "a\nb\n" },
        });

        var yaml = ResourceWriter.ToYaml(resource);

        Assert.Contains("port: \"8080\"", yaml, StringComparison.Ordinal);
        Assert.Contains("flag: \"true\"", yaml, StringComparison.Ordinal);
        Assert.Contains("text: plain", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("apiVersion: \"v1\"", yaml, StringComparison.Ordinal);
        var back = Assert.Single(ResourceReader.Read(yaml).Resources).GetSpec<Workloads.ConfigMapData>();
        Assert.Equal(resource.GetSpec<Workloads.ConfigMapData>().Data, back.Data);
    }

    [Fact]
    public void ToJsonObject_KnativeService_WritesPodSpecInline()
    {
        const string text = """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: hello}
            spec:
              template:
                spec:
                  containerConcurrency: 1
                  containers: [{name: user, image: hello}]
            """;

        var json = ResourceWriter.ToJsonObject(Assert.Single(ResourceReader.Read(text).Resources));

        var spec = json["spec"]!["template"]!["spec"]!.AsObject();
        Assert.Equal(["containers", "containerConcurrency"], spec.Select(kv => kv.Key).ToArray());
    }

    [Fact]
    public void ToJsonObject_EmptyAuthorizationPolicySpec_KeepsEmptySpec()
    {
        var result = ResourceReader.Read("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing}\nspec: {}\n");

        var json = ResourceWriter.ToJsonObject(Assert.Single(result.Resources));

        Assert.Equal("{}", json["spec"]!.ToJsonString());
    }

    /// <summary>A copy without nulls and empty lists or maps, at any depth; null when nothing is left.</summary>
    private static JsonNode? WithoutEmpties(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var kept = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    if (WithoutEmpties(value) is { } v)
                    {
                        kept[key] = v;
                    }
                }

                return kept.Count == 0 ? null : kept;
            case JsonArray array:
                var items = array.Select(WithoutEmpties).ToArray();
                return items.Length == 0 ? null : new JsonArray(items);
            default:
                return node?.DeepClone();
        }
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CloudNative.CloudEvents;
using Trellis.Eventing.CloudEvents;
using YamlDotNet.RepresentationModel;

namespace Trellis.Eventing.Tests.CloudEvents;

/// <summary>
/// Every event of the CloudEvents conformance YAML (http-binding/yaml), in its mode (binary or
/// structured, both when the file names none): sent as a producer writes it on the wire, decoded by
/// Trellis, compared attribute by attribute and byte by byte; then encoded by Trellis and decoded
/// again. Version 0.3 events are refused with the reason: Trellis (like the CNCF SDK 2.x) speaks 1.0.
/// </summary>
public sealed class HttpBindingYamlTests
{
    private const string Folder = "cloudevents/http-binding/yaml";

    public static TheoryData<string, int, string> Events()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var file in Directory.GetFiles(Conformance.PathOf(Folder), "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(Conformance.PathOf(Folder), file);
            var documents = Load(file);
            for (var i = 0; i < documents.Count; i++)
            {
                var modes = documents[i].Children.TryGetValue("Mode", out var m) ? [((YamlScalarNode)m).Value!] : new[] { "binary", "structured" };
                foreach (var mode in modes)
                {
                    data.Add(relative, i, mode);
                }
            }
        }

        return data;
    }

    [Fact]
    public void Yaml_HasEveryEvent() => Assert.Equal(2 + 12 + 2 + 12, Events().Count);

    [Theory]
    [MemberData(nameof(Events))]
    public void Event_DecodesAndRoundTrips(string file, int index, string mode)
    {
        var document = Load(Conformance.PathOf(Path.Combine(Folder, file)))[index];
        var attributes = Strings(document, "ContextAttributes");
        var extensions = document.Children.TryGetValue("ContextAttributes", out var c) && ((YamlMappingNode)c).Children.TryGetValue("Extensions", out _)
            ? Strings((YamlMappingNode)c, "Extensions")
            : [];
        var transport = Strings(document, "TransportExtensions");
        var data = ((YamlScalarNode)document.Children["Data"]).Value!;

        var message = mode == "binary" ? Binary(attributes, extensions, transport, data) : Structured(attributes, extensions, data);
        var decoded = CloudEventHttp.Decode(message);

        if (attributes["specversion"] != "1.0")
        {
            Assert.False(decoded.Ok);
            Assert.Contains("unsupported", decoded.Error, StringComparison.OrdinalIgnoreCase);
            Assert.Contains($"'{attributes["specversion"]}'", decoded.Error, StringComparison.Ordinal);
            return;
        }

        Assert.True(decoded.Ok, decoded.Error);
        AssertEvent(Assert.Single(decoded.Events), attributes, extensions, transport, data);

        var again = CloudEventHttp.Decode(mode == "binary" ? CloudEventHttp.EncodeBinary(decoded.Events[0]) : CloudEventHttp.EncodeStructured(decoded.Events[0]));
        Assert.True(again.Ok, again.Error);
        AssertEvent(Assert.Single(again.Events), attributes, extensions, transport, data);
    }

    private static void AssertEvent(CloudEvent cloudEvent, Dictionary<string, string> attributes, Dictionary<string, string> extensions, Dictionary<string, string> transport, string data)
    {
        foreach (var (name, value) in attributes.Concat(extensions))
        {
            var actual = name == "specversion" ? cloudEvent.SpecVersion.VersionId : cloudEvent.GetAttribute(name) is { } a ? a.Format(cloudEvent[a]!) : null;
            Assert.Equal(value, actual);
        }

        foreach (var name in transport.Keys)
        {
            Assert.Null(cloudEvent.GetAttribute(name.Replace("-", "", StringComparison.Ordinal)));
        }

        var contentType = attributes.GetValueOrDefault("datacontenttype") ?? "application/json";
        switch (cloudEvent.Data)
        {
            case JsonElement json:
                Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(data).RootElement, json), json.GetRawText());
                break;
            case string text:
                Assert.Equal(data, text);
                break;
            case byte[] bytes:
                Assert.Equal(data, Encoding.UTF8.GetString(bytes));
                break;
            default:
                Assert.Fail($"data of {contentType} decoded as {cloudEvent.Data?.GetType().Name ?? "null"}");
                break;
        }
    }

    /// <summary>What a producer sends in binary mode: ce- headers (percent-encoded), Content-Type, transport headers, the data as the body.</summary>
    private static EventMessage Binary(Dictionary<string, string> attributes, Dictionary<string, string> extensions, Dictionary<string, string> transport, string data)
    {
        var headers = attributes.Concat(extensions)
            .Where(a => a.Key != "datacontenttype")
            .Select(a => new KeyValuePair<string, string>("ce-" + a.Key, Uri.EscapeDataString(a.Value)))
            .Concat(transport)
            .ToList();
        return new EventMessage(attributes.GetValueOrDefault("datacontenttype") ?? "application/json", headers, Encoding.UTF8.GetBytes(data));
    }

    /// <summary>Structured mode: the JSON event format, data as JSON when the content type is JSON and as a string otherwise.</summary>
    private static EventMessage Structured(Dictionary<string, string> attributes, Dictionary<string, string> extensions, string data)
    {
        var json = new JsonObject();
        foreach (var (name, value) in attributes.Concat(extensions))
        {
            json[name] = value;
        }

        var contentType = attributes.GetValueOrDefault("datacontenttype") ?? "application/json";
        json["data"] = contentType.Contains("json", StringComparison.Ordinal) ? JsonNode.Parse(data) : JsonValue.Create(data);
        return new EventMessage(CloudEventHttp.StructuredMediaType + "; charset=utf-8", [], Encoding.UTF8.GetBytes(json.ToJsonString()));
    }

    private static Dictionary<string, string> Strings(YamlMappingNode node, string key)
    {
        var result = new Dictionary<string, string>();
        if (node.Children.TryGetValue(key, out var child))
        {
            foreach (var (k, v) in ((YamlMappingNode)child).Children)
            {
                if (v is YamlScalarNode scalar)
                {
                    // A literal block (|) ends with a line break, which no header and no String attribute may hold.
                    result[((YamlScalarNode)k).Value!] = scalar.Value!.TrimEnd('\n');
                }
            }
        }

        return result;
    }

    private static List<YamlMappingNode> Load(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }
}

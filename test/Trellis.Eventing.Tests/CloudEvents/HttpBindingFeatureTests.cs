using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using Trellis.Eventing.CloudEvents;

namespace Trellis.Eventing.Tests.CloudEvents;

/// <summary>
/// The scenarios of the CloudEvents conformance feature http-protocol-binding.feature, each example row
/// its own test: the raw HTTP request is decoded and its attributes and JSON data compared with the
/// scenario's tables. (kafka-protocol-binding.feature in the same folder is the Kafka binding, which
/// Trellis does not speak.)
/// </summary>
public sealed class HttpBindingFeatureTests
{
    private const string Feature = "cloudevents/http-binding/features/http-protocol-binding.feature";

    public static TheoryData<string, string> Scenarios()
    {
        var data = new TheoryData<string, string>();
        foreach (var scenario in Read())
        {
            foreach (var example in scenario.Examples)
            {
                data.Add(scenario.Name, example);
            }
        }

        return data;
    }

    [Fact]
    public void Feature_HasItsScenarios() => Assert.Equal(4, Scenarios().Count);

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Scenario_DecodesAsTheFeatureSays(string name, string contentType)
    {
        var scenario = Read().Single(s => s.Name == name);
        var request = scenario.Request.Replace("<contentType>", contentType, StringComparison.Ordinal);
        var decoded = CloudEventHttp.Decode(ParseHttp(request));

        Assert.True(decoded.Ok, decoded.Error);
        var cloudEvent = Assert.Single(decoded.Events);
        foreach (var (key, value) in scenario.Attributes)
        {
            var expected = value.Replace("<contentType>", contentType, StringComparison.Ordinal);
            var actual = key == "specversion" ? cloudEvent.SpecVersion.VersionId : cloudEvent.GetAttribute(key) is { } a ? a.Format(cloudEvent[a]!) : null;
            Assert.Equal(expected, actual);
        }

        var data = Assert.IsType<JsonElement>(cloudEvent.Data);
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(scenario.Data).RootElement, data), data.GetRawText());
    }

    /// <summary>A request as written in the feature: request line, headers, blank line, body.</summary>
    internal static EventMessage ParseHttp(string text)
    {
        var lines = text.Split('\n');
        var headers = new List<KeyValuePair<string, string>>();
        string? contentType = null;
        var i = 1;
        for (; i < lines.Length && lines[i].Trim().Length > 0; i++)
        {
            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            var (key, value) = (lines[i][..colon].Trim(), lines[i][(colon + 1)..].Trim());
            if (key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = value;
            }
            else
            {
                headers.Add(new(key, value));
            }
        }

        var body = string.Join('\n', lines.Skip(i + 1));
        return new EventMessage(contentType, headers, Encoding.UTF8.GetBytes(body));
    }

    private sealed record Scenario(string Name, string Request, List<(string Key, string Value)> Attributes, string Data, List<string> Examples);

    /// <summary>Just enough Gherkin for this feature: outlines with one request doc string, one table, one JSON doc string and examples.</summary>
    private static List<Scenario> Read()
    {
        var scenarios = new List<Scenario>();
        var lines = File.ReadAllLines(Conformance.PathOf(Feature));
        Scenario? current = null;
        var docStrings = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.StartsWith("Scenario Outline:", StringComparison.Ordinal))
            {
                current = new Scenario(line["Scenario Outline:".Length..].Trim(), "", [], "", []);
                scenarios.Add(current);
                docStrings.Clear();
            }
            else if (line == "\"\"\"" && current is not null)
            {
                var indent = lines[i].IndexOf('"', StringComparison.Ordinal);
                var block = new List<string>();
                for (i++; lines[i].Trim() != "\"\"\""; i++)
                {
                    block.Add(lines[i].Length >= indent ? lines[i][indent..] : lines[i].TrimStart());
                }

                docStrings.Add(string.Join('\n', block));
                scenarios[^1] = current = current with { Request = docStrings[0], Data = docStrings.Count > 1 ? docStrings[1] : "" };
            }
            else if (line.StartsWith('|') && current is not null)
            {
                var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
                if (cells is ["key", "value"] || cells is ["contentType"])
                {
                    continue;
                }

                if (cells.Length == 2)
                {
                    current.Attributes.Add((cells[0], cells[1]));
                }
                else
                {
                    current.Examples.Add(cells[0]);
                }
            }
        }

        return scenarios;
    }
}

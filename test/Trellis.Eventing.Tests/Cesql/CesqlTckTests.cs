using System.Globalization;
using System.Text.RegularExpressions;
using CloudNative.CloudEvents;
using Trellis.Eventing.Cesql;
using Trellis.Eventing.CloudEvents;
using YamlDotNet.RepresentationModel;

namespace Trellis.Eventing.Tests.Cesql;

/// <summary>
/// Every case of the CloudEvents SQL test kit (shared/conformance/cloudevents/cesql-tck), each its own
/// test: the value must be the kit's (with its type) and the error class must be the kit's, or none.
/// </summary>
public sealed partial class CesqlTckTests
{
    private const string Folder = "cloudevents/cesql-tck";

    public static TheoryData<string, int, string> Cases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var file in Directory.GetFiles(Conformance.PathOf(Folder), "*.yaml").Order(StringComparer.Ordinal))
        {
            var tests = (YamlSequenceNode)Load(file).Children["tests"];
            for (var i = 0; i < tests.Children.Count; i++)
            {
                data.Add(Path.GetFileName(file), i, ((YamlScalarNode)((YamlMappingNode)tests.Children[i]).Children["name"]).Value!);
            }
        }

        return data;
    }

    [Fact]
    public void Kit_HasEveryFile()
    {
        // A kit that went missing must fail, not pass with zero cases.
        Assert.Equal(18, Directory.GetFiles(Conformance.PathOf(Folder), "*.yaml").Length);
        Assert.True(Cases().Count >= 270);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_EvaluatesAsTheKitSays(string file, int index, string name)
    {
        var test = (YamlMappingNode)((YamlSequenceNode)Load(Conformance.PathOf(Path.Combine(Folder, file))).Children["tests"]).Children[index];
        var expression = ((YamlScalarNode)test.Children["expression"]).Value!;
        var (parsed, parseError) = CesqlExpression.Parse(expression);
        var result = parsed is null ? new CesqlResult(CesqlValue.False, parseError) : parsed.Evaluate(new CloudEventCesqlView(InputEvent(test)));

        var expectedError = test.Children.TryGetValue("error", out var e) ? ((YamlScalarNode)e).Value : null;
        Assert.True(expectedError == Name(result.Error?.Kind), $"{name}: {expression} expected error {expectedError ?? "none"}, got {result.Error?.ToString() ?? "none"}");
        if (test.Children.TryGetValue("result", out var r))
        {
            Assert.Equal(Expected((YamlScalarNode)r), result.Value);
        }
    }

    private static YamlMappingNode Load(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static string? Name(CesqlErrorKind? kind) => kind switch
    {
        null => null,
        CesqlErrorKind.Parse => "parse",
        CesqlErrorKind.Math => "math",
        CesqlErrorKind.Cast => "cast",
        CesqlErrorKind.MissingAttribute => "missingAttribute",
        CesqlErrorKind.MissingFunction => "missingFunction",
        _ => "functionEvaluation",
    };

    /// <summary>The kit's default event when it gives none: the required attributes only.</summary>
    private static CloudEvent InputEvent(YamlMappingNode test)
    {
        var cloudEvent = new CloudEvent(CloudEventsSpecVersion.V1_0) { Id = "myId", Source = new Uri("http://localhost/source"), Type = "myType" };
        if (test.Children.TryGetValue("event", out var given))
        {
            cloudEvent = new CloudEvent(CloudEventsSpecVersion.FromVersionId(((YamlScalarNode)((YamlMappingNode)given).Children["specversion"]).Value)!);
            Apply(cloudEvent, (YamlMappingNode)given);
        }

        if (test.Children.TryGetValue("eventOverrides", out var overrides))
        {
            Apply(cloudEvent, (YamlMappingNode)overrides);
        }

        return cloudEvent;
    }

    /// <summary>Known attributes from their string form; extensions typed as YAML types them (true → Boolean, 10 → Integer).</summary>
    private static void Apply(CloudEvent cloudEvent, YamlMappingNode attributes)
    {
        foreach (var (key, node) in attributes.Children)
        {
            var name = ((YamlScalarNode)key).Value!;
            var scalar = (YamlScalarNode)node;
            if (name == "specversion")
            {
                continue;
            }

            if (cloudEvent.SpecVersion.AllAttributes.Any(a => a.Name == name))
            {
                cloudEvent.SetAttributeFromString(name, scalar.Value!);
                continue;
            }

            var value = Expected(scalar);
            var type = value.Type switch
            {
                CesqlType.Boolean => CloudEventAttributeType.Boolean,
                CesqlType.Integer => CloudEventAttributeType.Integer,
                _ => CloudEventAttributeType.String,
            };
            cloudEvent[CloudEventAttribute.CreateExtension(name, type)] = value.Type switch
            {
                CesqlType.Boolean => value.AsBoolean,
                CesqlType.Integer => value.AsInteger,
                _ => value.AsString,
            };
        }
    }

    /// <summary>YAML's core schema: a plain true/false is a Boolean, a plain integer an Integer, anything else a String.</summary>
    private static CesqlValue Expected(YamlScalarNode node)
    {
        var text = node.Value ?? "";
        if (node.Style is YamlDotNet.Core.ScalarStyle.Plain)
        {
            if (bool.TryParse(text, out var b))
            {
                return CesqlValue.Of(b);
            }

            if (IntegerPattern().IsMatch(text))
            {
                return CesqlValue.Of(int.Parse(text, CultureInfo.InvariantCulture));
            }
        }

        return CesqlValue.Of(text);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Api.Reading;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api;

/// <summary>Writes JSON as block-style YAML, quoting exactly the strings that would otherwise read back as another type.</summary>
internal static class YamlText
{
    public static string Write(JsonNode node)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var emitter = new Emitter(writer, new EmitterSettings(2, int.MaxValue, false, 1024, false, false));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, true));
        Emit(emitter, node);
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    private static void Emit(IEmitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case null:
                emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                break;
            case JsonObject obj:
                emitter.Emit(new MappingStart(null, null, true, MappingStyle.Block));
                foreach (var (key, value) in obj)
                {
                    EmitString(emitter, key);
                    Emit(emitter, value);
                }

                emitter.Emit(new MappingEnd());
                break;
            case JsonArray array:
                emitter.Emit(new SequenceStart(null, null, true, SequenceStyle.Block));
                foreach (var item in array)
                {
                    Emit(emitter, item);
                }

                emitter.Emit(new SequenceEnd());
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                EmitString(emitter, value.GetValue<string>());
                break;
            default:
                // Numbers and booleans: their JSON text is also their YAML text.
                emitter.Emit(new Scalar(null, null, node.ToJsonString(), ScalarStyle.Plain, true, false));
                break;
        }
    }

    private static void EmitString(IEmitter emitter, string text)
    {
        var style = text.Contains('\n', StringComparison.Ordinal)
            ? ScalarStyle.Literal
            : Scalars.KindOf(new YamlScalarNode(text) { Style = ScalarStyle.Plain }) == ScalarKind.String ? ScalarStyle.Any : ScalarStyle.DoubleQuoted;
        emitter.Emit(new Scalar(null, null, text, style, style != ScalarStyle.DoubleQuoted, true));
    }
}

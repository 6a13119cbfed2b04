using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Trellis.Cli.Output;

/// <summary>Block-style YAML for any JSON tree (computed views that are not stored resources).</summary>
public static class JsonYaml
{
    public static string Write(JsonNode node)
    {
        var sb = new StringBuilder();
        Write(sb, node, 0, inList: false);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, JsonNode? node, int indent, bool inList)
    {
        var pad = new string(' ', indent);
        switch (node)
        {
            case JsonObject o:
                var first = true;
                foreach (var (key, value) in o)
                {
                    if (value is null)
                    {
                        continue;
                    }

                    sb.Append(first && inList ? "" : pad).Append(key).Append(':');
                    first = false;
                    if (value is JsonValue)
                    {
                        sb.Append(' ').Append(Scalar(value)).Append('\n');
                    }
                    else if (IsEmpty(value))
                    {
                        sb.Append(value is JsonArray ? " []\n" : " {}\n");
                    }
                    else
                    {
                        sb.Append('\n');
                        Write(sb, value, indent + 2, inList: false);
                    }
                }

                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    sb.Append(pad).Append("- ");
                    if (item is JsonObject && !IsEmpty(item))
                    {
                        Write(sb, item, indent + 2, inList: true);
                    }
                    else
                    {
                        sb.Append(Scalar(item)).Append('\n');
                    }
                }

                break;
            default:
                sb.Append(pad).Append(Scalar(node)).Append('\n');
                break;
        }
    }

    private static bool IsEmpty(JsonNode n) => n is JsonObject { Count: 0 } or JsonArray { Count: 0 };

    private static string Scalar(JsonNode? n) => n switch
    {
        null => "null",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Quote(v.GetValue<string>()),
        _ => n.ToJsonString(),
    };

    private static string Quote(string s) =>
        s.Length == 0 || s.IndexOfAny([':', '#', '\'', '"', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`']) >= 0 || s.Trim() != s
        || s is "true" or "false" or "null" or "yes" or "no" || double.TryParse(s, out _)
            ? JsonSerializer.Serialize(s, Relaxed)
            : s;

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Api.Schema;

namespace Trellis.Api;

/// <summary>
/// Writes resources back as documents, in the same shape the reader takes: camelCase upstream field names, nulls and
/// empty lists or maps left out, so that <c>Read(ToJson(r))</c> gives back an equal resource.
/// </summary>
public static class ResourceWriter
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static JsonObject ToJsonObject(Resource r)
    {
        var obj = new JsonObject
        {
            ["apiVersion"] = r.ApiVersion,
            ["kind"] = r.Kind,
            ["metadata"] = WriteObject(r.Metadata),
        };

        var info = ResourceKinds.Find(r.ApiVersion, r.Kind);
        if (r.Spec is not null)
        {
            var spec = WriteObject(r.Spec);
            if (info?.SpecAtTopLevel == true)
            {
                foreach (var (key, value) in spec.ToList())
                {
                    spec.Remove(key);
                    obj[key] = value;
                }
            }
            else
            {
                obj["spec"] = spec;
            }
        }

        if (r.Status is not null)
        {
            obj["status"] = r.Status.DeepClone();
        }

        return obj;
    }

    public static string ToJson(Resource r, bool indented = false) =>
        ToJsonObject(r).ToJsonString(indented ? Indented : Compact);

    /// <summary>The resource as one YAML document (no leading <c>---</c>).</summary>
    public static string ToYaml(Resource r) => YamlText.Write(ToJsonObject(r));

    /// <summary>Any spec record (or other bound record) as JSON, for callers that show parts of a resource.</summary>
    public static JsonObject WriteObject(object record)
    {
        var obj = new JsonObject();
        WriteFields(record, TypeModel.For(record.GetType()), obj);
        return obj;
    }

    private static void WriteFields(object record, TypeModel model, JsonObject target)
    {
        foreach (var field in model.Fields)
        {
            var value = field.Property.GetValue(record);
            if (value is null)
            {
                continue;
            }

            if (field.Inline)
            {
                WriteFields(value, TypeModel.For(value.GetType()), target);
                continue;
            }

            if (value is ICollection { Count: 0 })
            {
                continue;
            }

            // ObjectMeta.Name defaults to "" rather than null; an empty name is no name.
            if (value is "" && field.Property.DeclaringType == typeof(ObjectMeta))
            {
                continue;
            }

            target[field.JsonName] = WriteValue(value);
        }
    }

    private static JsonNode? WriteValue(object value)
    {
        switch (value)
        {
            case string s:
                return JsonValue.Create(s);
            case int i:
                return JsonValue.Create(i);
            case long l:
                return JsonValue.Create(l);
            case double d:
                return JsonValue.Create(d);
            case bool b:
                return JsonValue.Create(b);
            case Enum e:
                return JsonValue.Create(TypeModel.EnumName(e));
            case IntOrString ios:
                return ios.IsInt ? JsonValue.Create(ios.IntValue!.Value) : JsonValue.Create(ios.StringValue ?? "");
            case DateTimeOffset time:
                return JsonValue.Create(time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            case JsonNode node:
                return node.DeepClone();
            case IDictionary dictionary:
                var map = new JsonObject();
                foreach (DictionaryEntry entry in dictionary)
                {
                    map[(string)entry.Key] = entry.Value is null ? null : WriteValue(entry.Value);
                }

                return map;
            case IEnumerable list:
                var array = new JsonArray();
                foreach (var item in list)
                {
                    array.Add(item is null ? null : WriteValue(item));
                }

                return array;
            default:
                return WriteObject(value);
        }
    }
}

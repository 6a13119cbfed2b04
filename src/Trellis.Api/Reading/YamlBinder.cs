using System.Collections;
using System.Globalization;
using System.Text.Json.Nodes;
using Trellis.Api.Diagnostics;
using Trellis.Api.Schema;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api.Reading;

/// <summary>
/// Binds YAML nodes to the spec records by reflection over <see cref="TypeModel"/>: one binder for every kind.
/// It never stops at an error: a bad field is reported and skipped and its siblings are still bound, so one pass
/// reports every problem of a document. A value that failed to bind comes back as null.
/// </summary>
internal sealed class YamlBinder(BindContext context)
{
    public object? Bind(YamlNode node, Type type, string path, bool scalarString = false)
    {
        var (shape, element) = TypeModel.ShapeOf(type);
        switch (shape)
        {
            case ValueShape.FreeForm:
                var free = ToJsonNode(node);
                if (type == typeof(JsonObject) && free is not JsonObject)
                {
                    return WrongType(node, "a map", path);
                }

                return free;
            case ValueShape.List:
                return BindList(node, element!, path, scalarString);
            case ValueShape.Map:
                return BindMap(node, element!, path, scalarString);
            case ValueShape.Object:
                return node is YamlMappingNode map
                    ? BindObject(map, TypeModel.For(Nullable.GetUnderlyingType(type) ?? type), path, ignoredKeys: null)
                    : WrongType(node, "a map", path);
            default:
                return BindScalar(node, type, shape, path, scalarString);
        }
    }

    /// <summary>
    /// Binds the fields of <paramref name="model"/> from <paramref name="map"/>. Keys in <paramref name="ignoredKeys"/>
    /// belong to someone else (the envelope's <c>apiVersion</c> for top-level kinds); with null, unknown keys are errors.
    /// </summary>
    public object BindObject(YamlMappingNode map, TypeModel model, string path, IReadOnlySet<string>? ignoredKeys, bool reportUnknown = true)
    {
        var instance = TypeModel.Create(model.Type);
        var entries = Entries(map, path);
        foreach (var field in model.Fields)
        {
            if (field.Inline)
            {
                // The inline record reads its keys from the same mapping; unknown keys are reported once, here.
                var inline = BindObject(map, TypeModel.For(field.ValueType), path, ignoredKeys, reportUnknown: false);
                field.Property.SetValue(instance, inline);
                continue;
            }

            var fieldPath = Paths.Field(path, field.JsonName);
            if (!entries.TryGetValue(field.JsonName, out var entry) || Scalars.IsNull(entry.Value))
            {
                if (field.Required)
                {
                    context.Error(DiagnosticCodes.MissingField, $"missing required field \"{field.JsonName}\"", fieldPath, entry.Key?.Start ?? map.Start);
                }

                continue;
            }

            context.Remember(fieldPath, entry.Key!.Start);
            var value = Bind(entry.Value, field.ValueType, fieldPath, field.ScalarString);
            if (value is not null)
            {
                field.Property.SetValue(instance, value);
            }
        }

        if (reportUnknown)
        {
            foreach (var (name, entry) in entries)
            {
                if (!model.Keys.Contains(name) && ignoredKeys?.Contains(name) != true)
                {
                    var hint = Suggest(name, model.Keys);
                    context.Error(DiagnosticCodes.UnknownField, $"unknown field \"{name}\"{(hint is null ? "" : $" (did you mean \"{hint}\"?)")}", Paths.Field(path, name), entry.Key!.Start);
                }
            }
        }

        return instance;
    }

    /// <summary>A mapping's entries by key. Duplicate keys are rejected by YamlDotNet while loading, so none arrive here.</summary>
    private Dictionary<string, (YamlScalarNode? Key, YamlNode Value)> Entries(YamlMappingNode map, string path)
    {
        var entries = new Dictionary<string, (YamlScalarNode?, YamlNode)>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in map.Children)
        {
            if (keyNode is not YamlScalarNode key || Scalars.KindOf(key) == ScalarKind.Null)
            {
                context.Error(DiagnosticCodes.WrongType, $"keys must be strings, got {Scalars.Describe(keyNode)}", path, keyNode.Start);
                continue;
            }

            entries.TryAdd(key.Value!, (key, value));
        }

        return entries;
    }

    private object? BindList(YamlNode node, Type element, string path, bool scalarString)
    {
        if (node is not YamlSequenceNode seq)
        {
            return WrongType(node, "a list", path);
        }

        var list = (IList)TypeModel.Create(typeof(List<>).MakeGenericType(element));
        var i = 0;
        foreach (var item in seq.Children)
        {
            var itemPath = Paths.Index(path, i++);
            context.Remember(itemPath, item.Start);
            if (Scalars.IsNull(item))
            {
                context.Error(DiagnosticCodes.WrongType, "list entries must not be null", itemPath, item.Start);
                continue;
            }

            var value = Bind(item, element, itemPath, scalarString);
            if (value is not null)
            {
                list.Add(value);
            }
        }

        return list;
    }

    private object? BindMap(YamlNode node, Type element, string path, bool scalarString)
    {
        if (node is not YamlMappingNode map)
        {
            return WrongType(node, "a map", path);
        }

        var dictionary = (IDictionary)TypeModel.Create(typeof(Dictionary<,>).MakeGenericType(typeof(string), element));
        foreach (var (key, (keyNode, value)) in Entries(map, path))
        {
            var entryPath = Paths.Key(path, key);
            context.Remember(entryPath, keyNode!.Start);
            if (Scalars.IsNull(value) && TypeModel.ShapeOf(element).Shape != ValueShape.Object)
            {
                // An empty value in a string map (a label, an annotation) is the empty string, as in Kubernetes.
                if (element == typeof(string))
                {
                    dictionary[key] = "";
                    continue;
                }

                context.Error(DiagnosticCodes.WrongType, $"value of \"{key}\" must not be null", entryPath, keyNode.Start);
                continue;
            }

            // A null value of a record type (`end-user: {}` written as `end-user:`) is an empty record.
            var bound = Scalars.IsNull(value) ? TypeModel.Create(element) : Bind(value, element, entryPath, scalarString);
            if (bound is not null)
            {
                dictionary[key] = bound;
            }
        }

        return dictionary;
    }

    private object? BindScalar(YamlNode node, Type type, ValueShape shape, string path, bool scalarString)
    {
        if (node is not YamlScalarNode scalar)
        {
            return WrongType(node, Expected(shape, type), path);
        }

        var text = scalar.Value ?? "";
        var kind = Scalars.KindOf(scalar);
        switch (shape)
        {
            case ValueShape.String:
                if (kind == ScalarKind.String || (scalarString && kind != ScalarKind.Null))
                {
                    return text;
                }

                return WrongType(node, "a string (quote it)", path);
            case ValueShape.Int or ValueShape.Long:
                if (kind != ScalarKind.Int)
                {
                    return WrongType(node, "an integer", path);
                }

                if (!Scalars.TryParseInteger(text, out var l) || (shape == ValueShape.Int && l is > int.MaxValue or < int.MinValue))
                {
                    context.Error(DiagnosticCodes.InvalidValue, $"{text} is out of range", path, node.Start);
                    return null;
                }

                return shape == ValueShape.Int ? (object)(int)l : l;
            case ValueShape.Double:
                return kind is ScalarKind.Int or ScalarKind.Float && Scalars.TryParseFloat(text, out var d)
                    ? d
                    : WrongType(node, "a number", path);
            case ValueShape.Bool:
                return kind == ScalarKind.Bool ? Scalars.ParseBool(text) : WrongType(node, "a boolean (true or false)", path);
            case ValueShape.Enum:
                var enumType = Nullable.GetUnderlyingType(type) ?? type;
                var values = TypeModel.EnumValues(enumType);
                if (kind == ScalarKind.String && values.TryGetValue(text, out var member))
                {
                    return member;
                }

                context.Error(DiagnosticCodes.InvalidValue, $"\"{text}\" is not one of {string.Join(", ", values.Keys)}", path, node.Start);
                return null;
            case ValueShape.IntOrString:
                if (kind == ScalarKind.Int && Scalars.TryParseInteger(text, out var n) && n is >= int.MinValue and <= int.MaxValue)
                {
                    return IntOrString.FromInt((int)n);
                }

                return kind == ScalarKind.String ? IntOrString.FromString(text) : WrongType(node, "an integer or a string", path);
            case ValueShape.DateTime:
                if (kind == ScalarKind.String && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
                {
                    return time;
                }

                return WrongType(node, "an RFC 3339 timestamp", path);
            default:
                throw new InvalidOperationException($"Unexpected shape {shape}.");
        }
    }

    private object? WrongType(YamlNode node, string expected, string path)
    {
        context.Error(DiagnosticCodes.WrongType, $"expected {expected}, got {Scalars.Describe(node)}", path, node.Start);
        return null;
    }

    private static string Expected(ValueShape shape, Type type) => shape switch
    {
        ValueShape.String => "a string",
        ValueShape.Int or ValueShape.Long => "an integer",
        ValueShape.Double => "a number",
        ValueShape.Bool => "a boolean (true or false)",
        ValueShape.Enum => $"one of {string.Join(", ", TypeModel.EnumValues(Nullable.GetUnderlyingType(type) ?? type).Keys)}",
        ValueShape.IntOrString => "an integer or a string",
        _ => "a scalar",
    };

    /// <summary>Converts any node to JSON, resolving plain scalars with the core schema.</summary>
    public static JsonNode? ToJsonNode(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    obj[((YamlScalarNode)key).Value ?? ""] = ToJsonNode(value);
                }

                return obj;
            case YamlSequenceNode seq:
                return new JsonArray(seq.Children.Select(ToJsonNode).ToArray());
            case YamlScalarNode s:
                var text = s.Value ?? "";
                return Scalars.KindOf(s) switch
                {
                    ScalarKind.Null => null,
                    ScalarKind.Bool => JsonValue.Create(Scalars.ParseBool(text)),
                    ScalarKind.Int when Scalars.TryParseInteger(text, out var l) => JsonValue.Create(l),
                    ScalarKind.Int or ScalarKind.Float when Scalars.TryParseFloat(text, out var d) && double.IsFinite(d) => JsonValue.Create(d),
                    _ => JsonValue.Create(text),
                };
            default:
                return null;
        }
    }

    /// <summary>The known key closest to a misspelt one, when the typo is small.</summary>
    private static string? Suggest(string name, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = EditDistance(name, candidate);
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return bestDistance <= Math.Max(1, name.Length / 4) ? best : null;
    }

    /// <summary>
    /// Edits between two names, case-insensitive: insertions, deletions, substitutions and swaps of two
    /// neighbouring letters (optimal string alignment), so <c>wieght</c> is one edit from <c>weight</c>.
    /// </summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = Same(a[i - 1], b[j - 1]) ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && Same(a[i - 1], b[j - 2]) && Same(a[i - 2], b[j - 1]))
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    private static bool Same(char x, char y) => char.ToLowerInvariant(x) == char.ToLowerInvariant(y);
}

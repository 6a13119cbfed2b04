using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Trellis.Api.Schema;

/// <summary>The shapes a field's value can take in a document.</summary>
internal enum ValueShape
{
    String,
    Int,
    Long,
    Double,
    Bool,
    Enum,
    IntOrString,
    DateTime,
    FreeForm,
    List,
    Map,
    Object,
}

/// <summary>
/// Reflection metadata of one record type, computed once and cached: the reader binds documents and the writer
/// writes them from the same description, so the two cannot disagree about a field's name.
/// </summary>
internal sealed class TypeModel
{
    private static readonly ConcurrentDictionary<Type, TypeModel> Cache = new();
    private static readonly ConcurrentDictionary<Type, (ValueShape Shape, Type? Element)> Shapes = new();

    private TypeModel(Type type)
    {
        Type = type;
        Fields = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            .Select(p => new FieldModel(p))
            .ToArray();
    }

    public Type Type { get; }

    /// <summary>Own fields in declaration order, inline ones included as single entries.</summary>
    public IReadOnlyList<FieldModel> Fields { get; }

    /// <summary>Every key a mapping of this type may hold, inline records' keys included.</summary>
    public FrozenSet<string> Keys => field ??= Fields
        .SelectMany(f => f.Inline ? For(f.ValueType).Keys : [f.JsonName])
        .ToFrozenSet(StringComparer.Ordinal);

    public bool HasRequiredFields => Fields.Any(f => f.Required || (f.Inline && For(f.ValueType).HasRequiredFields));

    public static TypeModel For(Type type) => Cache.GetOrAdd(type, static t => new TypeModel(t));

    /// <summary>The shape of <paramref name="type"/> (nullable unwrapped) and, for lists and maps, the element type.</summary>
    public static (ValueShape Shape, Type? Element) ShapeOf(Type type) => Shapes.GetOrAdd(type, static t => Classify(t));

    public static object Create(Type type) =>
        Activator.CreateInstance(type) ?? throw new InvalidOperationException($"{type} has no parameterless constructor.");

    private static (ValueShape, Type?) Classify(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string))
        {
            return (ValueShape.String, null);
        }

        if (t == typeof(int))
        {
            return (ValueShape.Int, null);
        }

        if (t == typeof(long))
        {
            return (ValueShape.Long, null);
        }

        if (t == typeof(double))
        {
            return (ValueShape.Double, null);
        }

        if (t == typeof(bool))
        {
            return (ValueShape.Bool, null);
        }

        if (t.IsEnum)
        {
            return (ValueShape.Enum, null);
        }

        if (t == typeof(IntOrString))
        {
            return (ValueShape.IntOrString, null);
        }

        if (t == typeof(DateTimeOffset))
        {
            return (ValueShape.DateTime, null);
        }

        if (typeof(JsonNode).IsAssignableFrom(t))
        {
            return (ValueShape.FreeForm, null);
        }

        if (t.IsGenericType)
        {
            var def = t.GetGenericTypeDefinition();
            var args = t.GetGenericArguments();
            if (def == typeof(IReadOnlyList<>) || def == typeof(IList<>) || def == typeof(List<>))
            {
                return (ValueShape.List, args[0]);
            }

            if ((def == typeof(IReadOnlyDictionary<,>) || def == typeof(IDictionary<,>) || def == typeof(Dictionary<,>)) && args[0] == typeof(string))
            {
                return (ValueShape.Map, args[1]);
            }
        }

        if (t.IsClass && t.GetConstructor(Type.EmptyTypes) is not null)
        {
            return (ValueShape.Object, null);
        }

        throw new NotSupportedException($"Type {t} cannot be bound from a document.");
    }

    /// <summary>The names an enum's members are written with (<c>ROUND_ROBIN</c>), by member.</summary>
    public static FrozenDictionary<string, object> EnumValues(Type enumType) => EnumCache.GetOrAdd(enumType, static t =>
        t.GetFields(BindingFlags.Public | BindingFlags.Static).ToFrozenDictionary(
            f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name,
            f => f.GetValue(null)!,
            StringComparer.Ordinal));

    public static string EnumName(object value)
    {
        var values = EnumValues(value.GetType());
        return values.First(kv => kv.Value.Equals(value)).Key;
    }

    private static readonly ConcurrentDictionary<Type, FrozenDictionary<string, object>> EnumCache = new();
}

/// <summary>One property of a record as it appears in a document.</summary>
internal sealed class FieldModel
{
    public FieldModel(PropertyInfo property)
    {
        Property = property;
        ValueType = property.PropertyType;
        JsonName = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(property.Name);
        Required = property.IsDefined(typeof(RequiredMemberAttribute));
        Inline = property.IsDefined(typeof(InlineAttribute));
        ScalarString = property.IsDefined(typeof(ScalarStringAttribute));
    }

    public PropertyInfo Property { get; }

    public Type ValueType { get; }

    public string JsonName { get; }

    /// <summary>Declared with C#'s <c>required</c>: the document must give it a non-null value.</summary>
    public bool Required { get; }

    public bool Inline { get; }

    public bool ScalarString { get; }
}

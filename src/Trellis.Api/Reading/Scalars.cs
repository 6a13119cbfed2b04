using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api.Reading;

internal enum ScalarKind
{
    Null,
    Bool,
    Int,
    Float,
    String,
}

/// <summary>
/// Resolves an untagged plain scalar with the YAML 1.2 core schema, as Kubernetes' YAML reader does for the values
/// that matter: <c>80</c> is a number and <c>"80"</c> a string, so a quoted port is a type error, not a silent fix.
/// </summary>
internal static partial class Scalars
{
    public static ScalarKind KindOf(YamlScalarNode node)
    {
        if (!node.Tag.IsEmpty && !node.Tag.IsNonSpecific)
        {
            return node.Tag.Value switch
            {
                "tag:yaml.org,2002:null" => ScalarKind.Null,
                "tag:yaml.org,2002:bool" => ScalarKind.Bool,
                "tag:yaml.org,2002:int" => ScalarKind.Int,
                "tag:yaml.org,2002:float" => ScalarKind.Float,
                _ => ScalarKind.String,
            };
        }

        if (node.Style != ScalarStyle.Plain && node.Style != ScalarStyle.Any)
        {
            return ScalarKind.String;
        }

        var v = node.Value ?? "";
        return v switch
        {
            "" or "~" or "null" or "Null" or "NULL" => ScalarKind.Null,
            "true" or "True" or "TRUE" or "false" or "False" or "FALSE" => ScalarKind.Bool,
            _ when IntPattern().IsMatch(v) => ScalarKind.Int,
            _ when FloatPattern().IsMatch(v) => ScalarKind.Float,
            _ => ScalarKind.String,
        };
    }

    public static bool IsNull(YamlNode node) => node is YamlScalarNode s && KindOf(s) == ScalarKind.Null;

    public static bool ParseBool(string v) => v is "true" or "True" or "TRUE";

    public static bool TryParseInteger(string v, out long value)
    {
        var negative = v.StartsWith('-');
        var body = v.TrimStart('-', '+');
        bool ok;
        if (body.StartsWith("0x", StringComparison.Ordinal))
        {
            ok = long.TryParse(body.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }
        else if (body.StartsWith("0o", StringComparison.Ordinal))
        {
            ok = true;
            value = 0;
            try
            {
                value = Convert.ToInt64(body[2..], 8);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
            {
                ok = false;
            }
        }
        else
        {
            ok = long.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }

        if (negative)
        {
            value = -value;
        }

        return ok;
    }

    public static bool TryParseFloat(string v, out double value)
    {
        switch (v)
        {
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF":
                value = double.PositiveInfinity;
                return true;
            case "-.inf" or "-.Inf" or "-.INF":
                value = double.NegativeInfinity;
                return true;
            case ".nan" or ".NaN" or ".NAN":
                value = double.NaN;
                return true;
            default:
                if (TryParseInteger(v, out var l))
                {
                    value = l;
                    return true;
                }

                return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    /// <summary>How a node is named in messages: "a map", "a list", "the number 10"...</summary>
    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a map",
        YamlSequenceNode => "a list",
        YamlScalarNode s => KindOf(s) switch
        {
            ScalarKind.Null => "null",
            ScalarKind.Bool => $"the boolean {s.Value}",
            ScalarKind.Int or ScalarKind.Float => $"the number {s.Value}",
            _ => $"the string \"{s.Value}\"",
        },
        _ => "an alias",
    };

    [GeneratedRegex(@"^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")]
    private static partial Regex FloatPattern();
}

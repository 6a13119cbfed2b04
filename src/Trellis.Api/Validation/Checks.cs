using System.Text.RegularExpressions;
using Trellis.Api.Diagnostics;
using Trellis.Api.Networking;

namespace Trellis.Api.Validation;

/// <summary>Field rules shared by several kinds.</summary>
internal static class Checks
{
    public static void Port(int? port, string path, ValidationContext ctx)
    {
        if (port is { } p && p is < 1 or > 65535)
        {
            ctx.Error(path, $"port {p} is not in 1..65535");
        }
    }

    public static void Duration(string? value, string path, ValidationContext ctx)
    {
        if (value is not null && !Durations.TryParse(value, out _))
        {
            ctx.Error(path, $"\"{value}\" is not a duration (e.g. 10s, 0.5s, 100ms, 1m, 1h)");
        }
    }

    public static void Percentage(double? value, string path, ValidationContext ctx)
    {
        if (value is { } v && (double.IsNaN(v) || v is < 0 or > 100))
        {
            ctx.Error(path, $"percentage {v} is not in 0..100");
        }
    }

    public static void Regex(string pattern, string path, ValidationContext ctx)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException ex)
        {
            ctx.Error(path, $"invalid regular expression: {ex.Message}");
        }
    }

    /// <summary>Exactly one of exact, prefix, regex; an empty match is allowed where <paramref name="emptyMeansPresent"/> (header presence).</summary>
    public static void StringMatch(StringMatch match, string path, ValidationContext ctx, bool emptyMeansPresent = false)
    {
        var set = (match.Exact is null ? 0 : 1) + (match.Prefix is null ? 0 : 1) + (match.Regex is null ? 0 : 1);
        if (set > 1 || (set == 0 && !emptyMeansPresent))
        {
            ctx.Error(path, "exactly one of exact, prefix or regex must be set");
        }

        if (match.Regex is { } regex)
        {
            Regex(regex, $"{path}.regex", ctx);
        }
    }

    public static void Labels(IReadOnlyDictionary<string, string>? labels, string path, ValidationContext ctx)
    {
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            if (!Names.IsQualifiedName(key))
            {
                ctx.Error($"{path}[{key}]", $"\"{key}\" is not a valid label key");
            }
            else if (!Names.IsLabelValue(value))
            {
                ctx.Error($"{path}[{key}]", $"\"{value}\" is not a valid label value (at most 63 alphanumerics, '-', '_', '.')");
            }
        }
    }

    /// <summary>A Kubernetes label selector's keys, values and expressions (the operator, and values only where it takes them).</summary>
    public static void Selector(Trellis.Api.Workloads.LabelSelector selector, string path, ValidationContext ctx)
    {
        Labels(selector.MatchLabels, $"{path}.matchLabels", ctx);
        for (var i = 0; i < selector.MatchExpressions.Count; i++)
        {
            var e = selector.MatchExpressions[i];
            var valuesNeeded = e.Operator is "In" or "NotIn";
            if (e.Operator is not ("In" or "NotIn" or "Exists" or "DoesNotExist"))
            {
                ctx.Error($"{path}.matchExpressions[{i}].operator", $"\"{e.Operator}\" is not In, NotIn, Exists or DoesNotExist");
            }
            else if (valuesNeeded != (e.Values.Count > 0))
            {
                ctx.Error($"{path}.matchExpressions[{i}].values", valuesNeeded ? $"{e.Operator} needs values" : $"{e.Operator} takes no values");
            }
        }
    }

    /// <summary>Reports entries whose key (name, port…) repeats an earlier one.</summary>
    public static void Unique<T>(IReadOnlyList<T> items, Func<T, string?> key, string path, string what, ValidationContext ctx)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            if (key(items[i]) is { } k && !seen.Add(k))
            {
                ctx.Error($"{path}[{i}]", $"duplicate {what} \"{k}\"", DiagnosticCodes.DuplicateEntry);
            }
        }
    }

    /// <summary>Istio's rule for weighted destinations: each 0..100; with more than one, they must sum to 100.</summary>
    public static void Weights(IReadOnlyList<int?> weights, string path, string field, ValidationContext ctx)
    {
        var sum = 0L;
        for (var i = 0; i < weights.Count; i++)
        {
            if (weights[i] is { } w)
            {
                if (w is < 0 or > 100)
                {
                    ctx.Error($"{path}[{i}].{field}", $"weight {w} is not in 0..100");
                }

                sum += w;
            }
        }

        if (weights.Count > 1 && sum != 100)
        {
            ctx.Error(path, $"weights must sum to 100, they sum to {sum}");
        }
    }

    /// <summary>A host as Istio accepts it: a DNS name, optionally starting with a <c>*</c> wildcard label, or <c>*</c>.</summary>
    public static void Host(string host, string path, ValidationContext ctx, bool allowWildcard = true)
    {
        if (host == "*" && allowWildcard)
        {
            return;
        }

        var name = allowWildcard && host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        if (allowWildcard && host.StartsWith('*') && name == host)
        {
            // Istio also allows "*foo.com"; the part after the star must still be a DNS name.
            name = host[1..].TrimStart('.');
        }

        if (name.Length == 0 || !Names.IsDns1123Subdomain(name.ToLowerInvariant()))
        {
            ctx.Error(path, $"\"{host}\" is not a valid host name");
        }
    }
}

using System.Security.Cryptography;
using System.Text;

namespace Trellis.Runtime;

/// <summary>
/// Hashes a workload's template the way Kubernetes' pod-template-hash does: every field that shapes
/// the process, so that a change of any of them replaces the instances, and nothing else.
/// </summary>
internal static class WorkloadRevision
{
    public static string Compute(WorkloadSpec spec)
    {
        var text = new StringBuilder();
        Add(text, spec.Namespace);
        Add(text, spec.Name);
        AddMap(text, spec.Labels);
        Add(text, spec.Command);
        AddList(text, spec.Args);
        AddMap(text, spec.Env);
        Add(text, spec.WorkingDirectory);
        if (spec.Readiness is { } probe)
        {
            Add(text, probe.Kind.ToString());
            Add(text, probe.Path);
            Add(text, probe.InitialDelay.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Add(text, probe.Period.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Add(text, probe.Timeout.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Add(text, probe.FailureThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Add(text, probe.SuccessThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            Add(text, null);
        }

        Add(text, spec.TerminationGracePeriod.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AddList(text, spec.ExtraPortNames);
        if (spec.Pool is { } pool)
        {
            // Only when set, so the revisions of workloads that do not use the pool stay as they were.
            Add(text, "pool");
            Add(text, pool);
        }

        if (spec.SocketActivation)
        {
            Add(text, "socket-activation");
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return Convert.ToHexStringLower(hash, 0, 5);
    }

    // Length-prefixing makes the encoding unambiguous: ("ab","c") and ("a","bc") hash differently,
    // and null differs from "".
    private static void Add(StringBuilder text, string? value)
    {
        if (value is null)
        {
            text.Append("-1:");
            return;
        }

        text.Append(value.Length).Append(':').Append(value);
    }

    private static void AddList(StringBuilder text, IReadOnlyList<string> values)
    {
        text.Append('[').Append(values.Count).Append(']');
        foreach (var value in values)
        {
            Add(text, value);
        }
    }

    // Maps are sorted by key so that the order a YAML reader happened to fill them in does not matter.
    private static void AddMap(StringBuilder text, IReadOnlyDictionary<string, string> values)
    {
        text.Append('{').Append(values.Count).Append('}');
        foreach (var (key, value) in values.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Add(text, key);
            Add(text, value);
        }
    }
}

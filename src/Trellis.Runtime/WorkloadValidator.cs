using System.Text.RegularExpressions;

namespace Trellis.Runtime;

/// <summary>
/// Checks a desired state before the supervisor acts on it and reports every problem at once, so a
/// bad list changes nothing. Names end up in file names (logs), hence the strict name rule.
/// </summary>
internal static partial class WorkloadValidator
{
    public static IReadOnlyList<string> Validate(IReadOnlyList<WorkloadSpec> desired)
    {
        var errors = new List<string>();
        var seen = new HashSet<(string, string)>();
        for (var i = 0; i < desired.Count; i++)
        {
            var spec = desired[i];
            if (spec is null)
            {
                errors.Add($"[{i}]: workload is null");
                continue;
            }

            var where = $"{spec.Namespace}/{spec.Name}";
            CheckName(errors, where, "name", spec.Name);
            CheckName(errors, where, "namespace", spec.Namespace);
            if (!seen.Add((spec.Namespace, spec.Name)))
            {
                errors.Add($"{where}: duplicate workload");
            }

            if (spec.Replicas < 0)
            {
                errors.Add($"{where}: replicas: must be >= 0, got {spec.Replicas}");
            }

            if (string.IsNullOrWhiteSpace(spec.Command))
            {
                errors.Add($"{where}: command: required");
            }

            if (spec.Labels is null || spec.Args is null || spec.Env is null || spec.ExtraPortNames is null)
            {
                errors.Add($"{where}: labels, args, env and extraPortNames must not be null (use empty collections)");
            }

            if (spec.TerminationGracePeriod < TimeSpan.Zero)
            {
                errors.Add($"{where}: terminationGracePeriod: must be >= 0");
            }

            if (spec.Pool is not null and not Pool.PoolEligibility.Dotnet)
            {
                errors.Add($"{where}: pool: must be \"{Pool.PoolEligibility.Dotnet}\" or unset, got \"{spec.Pool}\"");
            }

            if (spec.Readiness is { } probe)
            {
                CheckProbe(errors, where, probe);
            }

            if (spec.ExtraPortNames is { } names)
            {
                var unique = new HashSet<string>(StringComparer.Ordinal);
                foreach (var name in names)
                {
                    if (string.IsNullOrWhiteSpace(name) || !unique.Add(name))
                    {
                        errors.Add($"{where}: extraPortNames: '{name}' is empty or repeated");
                    }
                }
            }
        }

        return errors;
    }

    private static void CheckProbe(List<string> errors, string where, ProbeSpec probe)
    {
        if (probe.InitialDelay < TimeSpan.Zero)
        {
            errors.Add($"{where}: readiness.initialDelay: must be >= 0");
        }

        if (probe.Period <= TimeSpan.Zero)
        {
            errors.Add($"{where}: readiness.period: must be > 0");
        }

        if (probe.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{where}: readiness.timeout: must be > 0");
        }

        if (probe.FailureThreshold < 1 || probe.SuccessThreshold < 1)
        {
            errors.Add($"{where}: readiness: failureThreshold and successThreshold must be >= 1");
        }

        if (probe.Kind == ProbeKind.Http && probe.Path is { Length: > 0 } path && path[0] != '/')
        {
            errors.Add($"{where}: readiness.path: must start with '/', got '{path}'");
        }
    }

    private static void CheckName(List<string> errors, string where, string field, string? name)
    {
        if (name is null || name.Length > 200 || !NamePattern().IsMatch(name))
        {
            errors.Add($"{where}: {field}: '{name}' must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit");
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    private static partial Regex NamePattern();
}

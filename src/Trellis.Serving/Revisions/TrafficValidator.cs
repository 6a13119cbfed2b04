using System.Text.RegularExpressions;
using Trellis.Api.Serving;

namespace Trellis.Serving.Revisions;

/// <summary>
/// Knative's traffic rules (<c>TrafficTarget.Validate</c> and <c>validateTrafficList</c> in
/// <c>pkg/apis/serving/v1</c>): each target names exactly one of a revision or a configuration, <c>latestRevision</c>
/// agrees with that choice, percents lie in [0, 100] and add up to 100, tags are unique DNS labels.
/// All errors are reported, each with its field path.
/// </summary>
internal static partial class TrafficValidator
{
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    public static List<string> Validate(IReadOnlyList<TrafficTarget> traffic, string path = "spec.traffic")
    {
        var errors = new List<string>();
        var tags = new HashSet<string>(StringComparer.Ordinal);
        long sum = 0;
        for (var i = 0; i < traffic.Count; i++)
        {
            var t = traffic[i];
            var at = $"{path}[{i}]";
            var hasRevision = !string.IsNullOrEmpty(t.RevisionName);
            var hasConfiguration = !string.IsNullOrEmpty(t.ConfigurationName);
            if (hasRevision && hasConfiguration)
            {
                errors.Add($"{at}: expected exactly one of revisionName and configurationName, got both");
            }
            else if (!hasRevision && !hasConfiguration)
            {
                errors.Add($"{at}: expected exactly one of revisionName and configurationName, got neither");
            }

            if (t.LatestRevision == true && hasRevision)
            {
                errors.Add($"{at}.latestRevision: may not set revisionName \"{t.RevisionName}\" when latestRevision is true");
            }
            else if (t.LatestRevision == false && hasConfiguration)
            {
                errors.Add($"{at}.latestRevision: may not be false when configurationName is set");
            }

            if (t.Percent is < 0 or > 100)
            {
                errors.Add($"{at}.percent: {t.Percent} is outside [0, 100]");
            }

            sum += t.Percent ?? 0;

            if (t.Tag is { } tag)
            {
                if (tag.Length > 63 || !DnsLabel().IsMatch(tag))
                {
                    errors.Add($"{at}.tag: \"{tag}\" must be a DNS label (lower-case letters, digits and '-')");
                }
                else if (!tags.Add(tag))
                {
                    errors.Add($"{at}.tag: multiple definitions for tag \"{tag}\"");
                }
            }
        }

        if (traffic.Count > 0 && sum != 100)
        {
            errors.Add($"{path}: traffic targets sum to {sum}, want 100");
        }

        return errors;
    }
}

using Cronos;

namespace Trellis.Eventing.Sources;

/// <summary>
/// A PingSource's schedule (Knative's rules): a five-field cron expression or a descriptor
/// (<c>@hourly</c>, <c>@every</c> is not supported by Knative either), optionally prefixed with
/// <c>CRON_TZ=Zone</c> or <c>TZ=Zone</c>; <c>spec.timezone</c> gives the zone otherwise; UTC when
/// neither does. Parsed with Cronos, which handles daylight-saving jumps: a time skipped by a jump
/// fires once right after it, a repeated one fires once.
/// </summary>
public sealed class PingSchedule
{
    private readonly CronExpression _cron;

    private PingSchedule(CronExpression cron, TimeZoneInfo zone)
    {
        _cron = cron;
        Zone = zone;
    }

    public TimeZoneInfo Zone { get; }

    public static (PingSchedule? Schedule, string? Error) Parse(string schedule, string? timezone)
    {
        var expression = schedule.Trim();
        string? zoneName = timezone;
        foreach (var prefix in new[] { "CRON_TZ=", "TZ=" })
        {
            if (expression.StartsWith(prefix, StringComparison.Ordinal))
            {
                var space = expression.IndexOf(' ', StringComparison.Ordinal);
                if (space < 0)
                {
                    return (null, $"\"{schedule}\" has a time zone but no schedule");
                }

                zoneName = expression[prefix.Length..space];
                expression = expression[(space + 1)..].Trim();
            }
        }

        var zone = TimeZoneInfo.Utc;
        if (zoneName is not null && !TimeZoneInfo.TryFindSystemTimeZoneById(zoneName, out zone))
        {
            return (null, $"\"{zoneName}\" is not a known time zone");
        }

        try
        {
            return (new PingSchedule(CronExpression.Parse(expression, CronFormat.Standard), zone!), null);
        }
        catch (CronFormatException e)
        {
            return (null, $"\"{expression}\" is not a cron schedule: {e.Message}");
        }
    }

    /// <summary>The first firing strictly after <paramref name="after"/>, or null when the schedule never fires again.</summary>
    public DateTimeOffset? Next(DateTimeOffset after) => _cron.GetNextOccurrence(after, Zone, inclusive: false);
}

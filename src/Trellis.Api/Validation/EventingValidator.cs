using System.Xml;
using Trellis.Api.Eventing;

namespace Trellis.Api.Validation;

/// <summary>Knative Eventing's rules for Broker, Trigger and PingSource.</summary>
internal static class EventingValidator
{
    public static void Validate(BrokerSpec spec, ValidationContext ctx) => Delivery(spec.Delivery, "spec.delivery", ctx);

    public static void Validate(TriggerSpec spec, ValidationContext ctx)
    {
        if (spec.Broker.Length == 0)
        {
            ctx.Error("spec.broker", "broker must not be empty");
        }

        Destination(spec.Subscriber, "spec.subscriber", ctx);
        Delivery(spec.Delivery, "spec.delivery", ctx);
        for (var i = 0; i < spec.Filters.Count; i++)
        {
            Filter(spec.Filters[i], $"spec.filters[{i}]", ctx);
        }
    }

    public static void Validate(PingSourceSpec spec, ValidationContext ctx)
    {
        var schedule = spec.Schedule;
        if (schedule.StartsWith("CRON_TZ=", StringComparison.Ordinal) || schedule.StartsWith("TZ=", StringComparison.Ordinal))
        {
            schedule = schedule[(schedule.IndexOf(' ', StringComparison.Ordinal) + 1)..];
        }

        var fields = schedule.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (!(fields.Length == 5 || (fields.Length == 1 && fields[0].StartsWith('@'))))
        {
            ctx.Error("spec.schedule", $"\"{spec.Schedule}\" is not a five-field cron expression or a @descriptor");
        }

        if (spec.Timezone is { } zone && !TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _))
        {
            ctx.Error("spec.timezone", $"\"{zone}\" is not a known time zone");
        }

        if (spec.Data is not null && spec.DataBase64 is not null)
        {
            ctx.Error("spec.dataBase64", "data and dataBase64 are mutually exclusive");
        }

        if (spec.DataBase64 is { } b64 && !IsBase64(b64))
        {
            ctx.Error("spec.dataBase64", "not valid base64");
        }

        Destination(spec.Sink, "spec.sink", ctx);
    }

    private static void Destination(EventDestination destination, string path, ValidationContext ctx)
    {
        if (destination.Ref is null && destination.Uri is null)
        {
            ctx.Error(path, "one of ref or uri is required");
        }

        if (destination.Uri is { } uri && !Uri.TryCreate(uri, destination.Ref is null ? UriKind.Absolute : UriKind.RelativeOrAbsolute, out _))
        {
            ctx.Error($"{path}.uri", destination.Ref is null ? $"\"{uri}\" is not an absolute URI" : $"\"{uri}\" is not a URI");
        }
    }

    private static void Delivery(DeliverySpec? delivery, string path, ValidationContext ctx)
    {
        if (delivery is null)
        {
            return;
        }

        if (delivery.Retry is < 0)
        {
            ctx.Error($"{path}.retry", "must not be negative");
        }

        if (delivery.BackoffPolicy is { } policy && policy is not "linear" and not "exponential")
        {
            ctx.Error($"{path}.backoffPolicy", $"\"{policy}\" is not linear or exponential");
        }

        foreach (var (value, field) in new[] { (delivery.BackoffDelay, "backoffDelay"), (delivery.Timeout, "timeout"), (delivery.RetryAfterMax, "retryAfterMax") })
        {
            if (value is not null && !IsIsoDuration(value))
            {
                ctx.Error($"{path}.{field}", $"\"{value}\" is not an ISO 8601 duration (e.g. PT0.2S)");
            }
        }

        if (delivery.DeadLetterSink is { } sink)
        {
            Destination(sink, $"{path}.deadLetterSink", ctx);
        }
    }

    private static void Filter(SubscriptionsApiFilter filter, string path, ValidationContext ctx)
    {
        var dialects = (filter.All.Count > 0 ? 1 : 0) + (filter.Any.Count > 0 ? 1 : 0) + (filter.Not is null ? 0 : 1)
            + (filter.Exact.Count > 0 ? 1 : 0) + (filter.Prefix.Count > 0 ? 1 : 0) + (filter.Suffix.Count > 0 ? 1 : 0) + (filter.Cesql is null ? 0 : 1);
        if (dialects != 1)
        {
            ctx.Error(path, "exactly one filter dialect (all, any, not, exact, prefix, suffix, cesql) must be set");
        }

        for (var i = 0; i < filter.All.Count; i++)
        {
            Filter(filter.All[i], $"{path}.all[{i}]", ctx);
        }

        for (var i = 0; i < filter.Any.Count; i++)
        {
            Filter(filter.Any[i], $"{path}.any[{i}]", ctx);
        }

        if (filter.Not is { } not)
        {
            Filter(not, $"{path}.not", ctx);
        }
    }

    private static bool IsIsoDuration(string value)
    {
        try
        {
            _ = XmlConvert.ToTimeSpan(value);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    private static bool IsBase64(string value)
    {
        var buffer = new byte[value.Length];
        return Convert.TryFromBase64String(value, buffer, out _);
    }
}

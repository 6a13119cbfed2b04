using System.Xml;
using Trellis.Api.Eventing;

namespace Trellis.Api.Validation;

/// <summary>Knative Eventing's rules for Broker, Trigger, PingSource and SinkBinding.</summary>
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
        Overrides(spec.CeOverrides, ctx);
    }

    /// <summary>
    /// Knative's SinkBinding rules (<c>tracker.Reference</c>, the destination, the overrides) and Trellis's one more: the
    /// subject must be a kind Trellis runs, since a binding to anything else could never inject anything.
    /// </summary>
    public static void Validate(SinkBindingSpec spec, string ns, ValidationContext ctx)
    {
        var subject = spec.Subject;
        if (subject.ApiVersion.Length == 0)
        {
            ctx.Error("spec.subject.apiVersion", "apiVersion is required");
        }

        if (subject.Kind.Length == 0)
        {
            ctx.Error("spec.subject.kind", "kind is required");
        }

        if (subject.ApiVersion.Length > 0 && subject.Kind.Length > 0 && !SinkBindingSubjects.IsBindable(subject.ApiVersion, subject.Kind))
        {
            ctx.Error("spec.subject", $"{subject.Kind} ({subject.ApiVersion}) cannot be bound: Trellis binds {SinkBindingSubjects.Describe}");
        }

        if (subject.Namespace is { Length: > 0 } subjectNs && subjectNs != ns)
        {
            ctx.Error("spec.subject.namespace", $"\"{subjectNs}\" is not the SinkBinding's namespace \"{ns}\" (a binding binds subjects of its own namespace)");
        }

        switch (subject.Name, subject.Selector)
        {
            case ({ Length: > 0 }, not null):
                ctx.Error("spec.subject", "expected exactly one of name and selector, got both");
                break;
            case (null or "", null):
                ctx.Error("spec.subject", "expected exactly one of name and selector, got neither");
                break;
            case (_, { } selector):
                Checks.Selector(selector, "spec.subject.selector", ctx);
                break;
            case ({ } name, null) when !Names.IsDns1123Label(name):
                ctx.Error("spec.subject.name", $"\"{name}\" is not a valid name (a DNS-1123 label)");
                break;
        }

        Destination(spec.Sink, "spec.sink", ctx);
        Overrides(spec.CeOverrides, ctx);
    }

    /// <summary>Knative's <c>CloudEventOverrides</c>: extension names are CloudEvents attribute names (a-z, 0-9), at most 20 characters.</summary>
    private static void Overrides(CloudEventOverrides? overrides, ValidationContext ctx)
    {
        foreach (var key in overrides?.Extensions.Keys ?? [])
        {
            var path = $"spec.ceOverrides.extensions[{key}]";
            if (key.Length == 0)
            {
                ctx.Error(path, "extension names must not be empty");
            }
            else if (key.Length > 20)
            {
                ctx.Error(path, $"\"{key}\" is longer than 20 characters");
            }
            else if (!key.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9')))
            {
                ctx.Error(path, $"\"{key}\" is not a CloudEvents attribute name (lower-case letters and digits only)");
            }
        }
    }

    private static void Destination(EventDestination destination, string path, ValidationContext ctx)
    {
        if (destination.Ref is null && destination.Uri is null)
        {
            ctx.Error(path, "one of ref or uri is required");
        }

        if (destination.Uri is { } uri && !(destination.Ref is null ? EventDestination.TryAbsoluteHttp(uri, out _) : Uri.TryCreate(uri, UriKind.RelativeOrAbsolute, out _)))
        {
            ctx.Error($"{path}.uri", destination.Ref is null ? $"\"{uri}\" is not an absolute http(s) URI" : $"\"{uri}\" is not a URI");
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

using CloudNative.CloudEvents;
using Trellis.Api.Eventing;
using Trellis.Eventing.Cesql;
using Trellis.Eventing.CloudEvents;

namespace Trellis.Eventing.Filtering;

/// <summary>A Trigger's filter, compiled once when the Trigger is read: a predicate over events.</summary>
public abstract class EventFilter
{
    /// <summary>Passes every event (a Trigger with no filter).</summary>
    public static EventFilter All { get; } = new AllFilter([]);

    public abstract bool Matches(CloudEvent cloudEvent);

    /// <summary>
    /// Knative's rule: when <c>filters</c> (the Subscriptions API dialects) is non-empty it alone
    /// decides and <c>filter.attributes</c> is ignored; otherwise every attribute of
    /// <c>filter.attributes</c> must equal the event's (an empty value accepts any). The filters of a
    /// list must all pass. Returns the errors (a bad CESQL expression, a dialect misuse) instead when any.
    /// </summary>
    public static (EventFilter? Filter, IReadOnlyList<string> Errors) Compile(TriggerSpec trigger)
    {
        var errors = new List<string>();
        if (trigger.Filters.Count > 0)
        {
            var compiled = trigger.Filters.Select((f, i) => Compile(f, $"spec.filters[{i}]", errors)).ToList();
            return errors.Count > 0 ? (null, errors) : (new AllFilter(compiled), errors);
        }

        var attributes = trigger.Filter?.Attributes ?? new Dictionary<string, string>();
        var exact = attributes.Where(a => a.Value.Length > 0).Select(a => (EventFilter)new AttributeFilter(a.Key, a.Value, AttributeMatch.Exact)).ToList();
        return (exact.Count == 0 ? All : new AllFilter(exact), errors);
    }

    private static EventFilter Compile(SubscriptionsApiFilter filter, string path, List<string> errors)
    {
        var dialects = new List<string>();
        if (filter.Exact.Count > 0)
        {
            dialects.Add("exact");
        }

        if (filter.Prefix.Count > 0)
        {
            dialects.Add("prefix");
        }

        if (filter.Suffix.Count > 0)
        {
            dialects.Add("suffix");
        }

        if (filter.All.Count > 0)
        {
            dialects.Add("all");
        }

        if (filter.Any.Count > 0)
        {
            dialects.Add("any");
        }

        if (filter.Not is not null)
        {
            dialects.Add("not");
        }

        if (filter.Cesql is not null)
        {
            dialects.Add("cesql");
        }

        if (dialects.Count != 1)
        {
            errors.Add(dialects.Count == 0 ? $"{path}: a filter needs one dialect (exact, prefix, suffix, all, any, not, cesql)" : $"{path}: one dialect per filter, found {string.Join(", ", dialects)}");
            return All;
        }

        switch (dialects[0])
        {
            case "exact":
                return Single(filter.Exact, AttributeMatch.Exact, $"{path}.exact", errors);
            case "prefix":
                return Single(filter.Prefix, AttributeMatch.Prefix, $"{path}.prefix", errors);
            case "suffix":
                return Single(filter.Suffix, AttributeMatch.Suffix, $"{path}.suffix", errors);
            case "all":
                return new AllFilter([.. filter.All.Select((f, i) => Compile(f, $"{path}.all[{i}]", errors))]);
            case "any":
                return new AnyFilter([.. filter.Any.Select((f, i) => Compile(f, $"{path}.any[{i}]", errors))]);
            case "not":
                return new NotFilter(Compile(filter.Not!, $"{path}.not", errors));
            default:
                var (expression, error) = CesqlExpression.Parse(filter.Cesql!);
                if (expression is null)
                {
                    errors.Add($"{path}.cesql: {error}");
                    return All;
                }

                return new CesqlFilter(expression);
        }
    }

    /// <summary>Knative allows exactly one attribute per exact/prefix/suffix filter, with a non-empty value.</summary>
    private static EventFilter Single(IReadOnlyDictionary<string, string> map, AttributeMatch match, string path, List<string> errors)
    {
        if (map.Count != 1)
        {
            errors.Add($"{path}: exactly one attribute per filter, found {map.Count}");
            return All;
        }

        var (name, value) = map.First();
        if (value.Length == 0)
        {
            errors.Add($"{path}.{name}: the value must not be empty");
        }

        if (!IsAttributeName(name))
        {
            errors.Add($"{path}.{name}: not a CloudEvents attribute name (lower-case letters and digits)");
        }

        return new AttributeFilter(name, value, match);
    }

    private static bool IsAttributeName(string name) => name.Length > 0 && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c));

    /// <summary>An attribute's value as a string (specversion included), or null when the event lacks it.</summary>
    internal static string? AttributeText(CloudEvent cloudEvent, string name)
    {
        if (name == "specversion")
        {
            return cloudEvent.SpecVersion.VersionId;
        }

        var attribute = cloudEvent.GetAttribute(name);
        return attribute is not null && cloudEvent[attribute] is { } value ? attribute.Format(value) : null;
    }

    private sealed class AllFilter(IReadOnlyList<EventFilter> filters) : EventFilter
    {
        public override bool Matches(CloudEvent cloudEvent) => filters.All(f => f.Matches(cloudEvent));
    }

    private sealed class AnyFilter(IReadOnlyList<EventFilter> filters) : EventFilter
    {
        public override bool Matches(CloudEvent cloudEvent) => filters.Any(f => f.Matches(cloudEvent));
    }

    private sealed class NotFilter(EventFilter filter) : EventFilter
    {
        public override bool Matches(CloudEvent cloudEvent) => !filter.Matches(cloudEvent);
    }

    private sealed class CesqlFilter(CesqlExpression expression) : EventFilter
    {
        public override bool Matches(CloudEvent cloudEvent) => expression.Matches(new CloudEventCesqlView(cloudEvent));
    }

    private enum AttributeMatch
    {
        Exact,
        Prefix,
        Suffix,
    }

    private sealed class AttributeFilter(string name, string value, AttributeMatch match) : EventFilter
    {
        public override bool Matches(CloudEvent cloudEvent) => AttributeText(cloudEvent, name) is { } actual && match switch
        {
            AttributeMatch.Exact => actual == value,
            AttributeMatch.Prefix => actual.StartsWith(value, StringComparison.Ordinal),
            _ => actual.EndsWith(value, StringComparison.Ordinal),
        };
    }
}

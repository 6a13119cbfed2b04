using System.Text;
using Trellis.Api.Observability;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>One label operation of a metric: remove the label (<see cref="Value"/> null) or set it from an expression.</summary>
internal sealed record TagOperationPlan(string Name, TagValueExpression? Value);

/// <summary>
/// A listener's Telemetry API metric overrides, ready for counting (<see cref="MetricOverrideConfig"/>, merged by the
/// control plane): which standard metrics are off, each metric's label operations, and the request attributes their
/// expressions read. Label texts are built from it once per series; per request only <see cref="Captured"/> is read
/// from the head (<see cref="RequestCaptures"/>), and only when an expression needs the request. Plans are interned by
/// <see cref="Key"/> (<see cref="IstioMetrics.Plans"/>), so listeners with the same overrides share series.
/// </summary>
internal sealed class MetricPlan : IEquatable<MetricPlan>
{
    public const int MetricCount = 8;

    /// <summary>Istio's defaults: every metric, Istio's labels.</summary>
    public static readonly MetricPlan Default = new([]);

    private readonly bool[] _disabled = new bool[MetricCount];
    private readonly TagOperationPlan[][] _operations = new TagOperationPlan[MetricCount][];

    private MetricPlan(IReadOnlyList<MetricOverrideConfig> overrides)
    {
        Array.Fill(_operations, []);
        var key = new StringBuilder();
        var captured = new List<TagAttributeRef>();
        foreach (var metric in overrides.OrderBy(o => o.Metric))
        {
            var index = (int)metric.Metric;
            _disabled[index] = metric.Disabled;
            _operations[index] = (metric.Tags ?? []).OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => Operation(t, captured)).ToArray();
            key.Append(metric.Metric).Append(metric.Disabled ? "!" : "").Append('{');
            foreach (var tag in _operations[index])
            {
                key.Append(tag.Name).Append(tag.Value is null ? "-" : "=" + tag.Value.Text).Append('\u001f');
            }

            key.Append('}');
        }

        Key = key.ToString();
        Captured = captured.Distinct().OrderBy(a => a.ToString(), StringComparer.Ordinal).ToArray();
    }

    public static MetricPlan From(IReadOnlyList<MetricOverrideConfig>? overrides) => overrides is null or { Count: 0 } ? Default : new MetricPlan(overrides);

    /// <summary>The overrides in a canonical text: plans with the same key count the same way.</summary>
    public string Key { get; }

    /// <summary>The request attributes the plan's expressions read, in a fixed order; empty when none does.</summary>
    public TagAttributeRef[] Captured { get; }

    public bool IsDisabled(StandardMetric metric) => _disabled[(int)metric];

    public TagOperationPlan[] Operations(StandardMetric metric) => _operations[(int)metric];

    public bool Equals(MetricPlan? other) => other is not null && string.Equals(Key, other.Key, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as MetricPlan);

    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);

    /// <summary>
    /// An UPSERT's expression, parsed again here (the control plane refused any it cannot parse at apply; one from a
    /// newer control plane that this proxy cannot read writes <c>unknown</c>, as Istio does for a failed expression).
    /// </summary>
    private static TagOperationPlan Operation(TagOverrideConfig tag, List<TagAttributeRef> captured)
    {
        if (tag.Value is null)
        {
            return new TagOperationPlan(tag.Name, null);
        }

        var expression = TagValueExpression.Parse(tag.Value, out _) ?? TagValueExpression.Parse("'unknown'", out _)!;
        captured.AddRange(expression.Attributes.Where(a => a.FromRequest));
        return new TagOperationPlan(tag.Name, expression);
    }
}

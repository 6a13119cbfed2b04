using System.Globalization;
using System.Text;
using Trellis.Api.Observability;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// The label texts of a series, built once when it is first met: Istio's labels in Istio's order (the peers and the
/// service, then the request's or the connection's own), then, per metric, the listener's <see cref="MetricPlan"/>
/// applied: a removed label left out, an upserted one given the value of its expression (in place when Istio has the
/// label, else after Istio's). A metric the plan disables has no text (null): the series is not shown in it.
/// </summary>
internal static class SeriesLabels
{
    /// <summary>What a series knows for the expressions: its peers, its answer and the values captured from its request.</summary>
    public sealed record Context(
        Reporter Reporter, PeerLabels Source, PeerLabels Destination, int? Status, int? GrpcStatus, MetricPlan Plan, RequestCaptures? Captures, int Captured)
        : ITagAttributes
    {
        public TagValue Get(TagAttributeRef attribute)
        {
            if (attribute.FromRequest)
            {
                var index = Array.IndexOf(Plan.Captured, attribute);
                var value = index < 0 || Captures is null ? null : Captures.Value(Captured, index);
                return attribute.Attribute == TagAttribute.DestinationPort && long.TryParse(value, CultureInfo.InvariantCulture, out var port)
                    ? TagValue.Of(port)
                    : TagValue.Of(value);
            }

            return attribute.Attribute switch
            {
                TagAttribute.ResponseCode => Status is { } code ? TagValue.Of(code) : TagValue.Absent,
                TagAttribute.ResponseGrpcStatus => GrpcStatus is { } grpc && grpc >= 0 ? TagValue.Of(grpc) : TagValue.Absent,
                // Istio's peer attributes: the upstream peer is known to the client side, the downstream one to the server side.
                TagAttribute.UpstreamPeer => Reporter == Reporter.Source ? Peer(Destination, attribute.Field!, attribute.Key) : TagValue.Absent,
                TagAttribute.DownstreamPeer => Reporter == Reporter.Destination ? Peer(Source, attribute.Field!, attribute.Key) : TagValue.Absent,
                TagAttribute.Node => Node(Reporter == Reporter.Source ? Source : Destination, attribute.Field!, attribute.Key),
                _ => TagValue.Absent,
            };
        }

        private static TagValue Peer(PeerLabels peer, string field, string? key) => Known(field switch
        {
            "app" => peer.App,
            "version" => peer.Version,
            "service" => peer.CanonicalService,
            "revision" => peer.CanonicalRevision,
            "namespace" => peer.Namespace,
            "cluster" or "cluster_id" => peer.Cluster,
            "labels" => Label(peer, key!),
            _ => peer.Workload, // name, workload, workload_name
        });

        private static TagValue Node(PeerLabels self, string key, string? label) => Known(key switch
        {
            "NAMESPACE" => self.Namespace,
            "CLUSTER_ID" => self.Cluster,
            "LABELS" => Label(self, label!),
            _ => self.Workload, // NAME, WORKLOAD_NAME
        });

        private static string Label(PeerLabels peer, string key) => key switch
        {
            "app" => peer.App,
            "version" => peer.Version,
            "service.istio.io/canonical-name" => peer.CanonicalService,
            _ => peer.CanonicalRevision,
        };

        private static TagValue Known(string value) => value == PeerLabels.Unknown ? TagValue.Absent : TagValue.Of(value);
    }

    /// <summary>
    /// The labels every Istio metric of a connection or request starts with, in Istio's order: the reporter, the
    /// <c>source_*</c> and <c>destination_*</c> workloads and the destination service. Request and TCP metrics share it.
    /// </summary>
    public static List<KeyValuePair<string, string>> Peers(Reporter reporter, PeerLabels source, PeerLabels destination, ServiceLabels service) =>
    [
        new("reporter", reporter == Reporter.Source ? "source" : "destination"),
        new("source_workload", source.Workload),
        new("source_canonical_service", source.CanonicalService),
        new("source_canonical_revision", source.CanonicalRevision),
        new("source_workload_namespace", source.Namespace),
        new("source_principal", source.Principal),
        new("source_app", source.App),
        new("source_version", source.Version),
        new("source_cluster", source.Cluster),
        new("destination_workload", destination.Workload),
        new("destination_workload_namespace", destination.Namespace),
        new("destination_principal", destination.Principal),
        new("destination_app", destination.App),
        new("destination_version", destination.Version),
        new("destination_service", service.Host),
        new("destination_canonical_service", destination.CanonicalService),
        new("destination_canonical_revision", destination.CanonicalRevision),
        new("destination_service_name", service.Name),
        new("destination_service_namespace", service.Namespace),
        new("destination_cluster", destination.Cluster),
    ];

    /// <summary>
    /// The label text of each of <paramref name="metrics"/> (null for a disabled one). Metrics without operations share
    /// one string: with Istio's defaults a series holds one label text.
    /// </summary>
    public static string?[] For(List<KeyValuePair<string, string>> defaults, Context context, ReadOnlySpan<StandardMetric> metrics)
    {
        var texts = new string?[metrics.Length];
        string? plain = null;
        for (var i = 0; i < metrics.Length; i++)
        {
            var plan = context.Plan;
            if (plan.IsDisabled(metrics[i]))
            {
                continue;
            }

            var operations = plan.Operations(metrics[i]);
            texts[i] = operations.Length == 0 ? plain ??= Text(defaults) : Text(Apply(defaults, operations, context));
        }

        return texts;
    }

    private static List<KeyValuePair<string, string>> Apply(List<KeyValuePair<string, string>> defaults, TagOperationPlan[] operations, Context context)
    {
        var labels = new List<KeyValuePair<string, string>>(defaults);
        foreach (var operation in operations)
        {
            var at = labels.FindIndex(l => l.Key == operation.Name);
            if (operation.Value is null)
            {
                if (at >= 0)
                {
                    labels.RemoveAt(at);
                }

                continue;
            }

            var label = new KeyValuePair<string, string>(operation.Name, operation.Value.Evaluate(context).Render());
            if (at >= 0)
            {
                labels[at] = label;
            }
            else
            {
                labels.Add(label);
            }
        }

        return labels;
    }

    public static string Text(List<KeyValuePair<string, string>> labels)
    {
        var text = new StringBuilder(640);
        foreach (var (name, value) in labels)
        {
            PrometheusWriter.Label(text, name, value);
        }

        return text.ToString();
    }
}

using System.Diagnostics;
using System.Globalization;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry.Tracing;

/// <summary>
/// This hop's span, as Envoy records one for Istio: a client span on the caller's side (outbound and gateway
/// listeners), a server span on the callee's (inbound), named <c>HOST:PORT/*</c> after the destination service, with
/// Envoy's and Istio's tags (<c>http.method</c>, <c>http.url</c>, <c>http.status_code</c>, <c>response_flags</c>,
/// <c>upstream_cluster</c>, <c>istio.canonical_service</c>, ...) and the Telemetry API's custom tags. Only a sampled
/// request of a listener with a tracing provider gets one; the others cost a branch.
/// </summary>
internal static class ProxySpans
{
    /// <summary>Istio's default mesh id (<c>meshConfig.trustDomain</c>'s cluster.local).</summary>
    public const string MeshId = "cluster.local";

    public static Activity? Begin(ListenerTelemetry listener, PeerLabels self, in RouteRequest request, string scheme, ExchangeTelemetry telemetry, DateTimeOffset now, string node)
    {
        if (!telemetry.Trace.Sampled || listener.Spans is not { } exporter)
        {
            return null;
        }

        var kind = listener.Reporter == Reporter.Source ? ActivityKind.Client : ActivityKind.Server;
        var activity = exporter.Start(ref telemetry.Trace, telemetry.ParentSpan, kind, now);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("component", "proxy");
        activity.SetTag("node_id", node);
        activity.SetTag("istio.mesh_id", MeshId);
        activity.SetTag("istio.canonical_service", self.CanonicalService);
        activity.SetTag("istio.canonical_revision", self.CanonicalRevision);
        activity.SetTag("istio.namespace", self.Namespace);
        activity.SetTag("http.method", request.Method);
        activity.SetTag("http.url", $"{scheme}://{request.Authority}{request.Path}{(request.Query is { Length: > 0 } q ? (q[0] == '?' ? q : "?" + q) : "")}");
        if (request.TryGetHeader("user-agent", out var agent))
        {
            activity.SetTag("user_agent", agent);
        }

        if (request.TryGetHeader("x-request-id", out var id))
        {
            activity.SetTag("guid:x-request-id", id);
        }

        var tracing = listener.Config.Tracing!;
        foreach (var (name, value) in tracing.CustomTags ?? new Dictionary<string, string>())
        {
            activity.SetTag(name, value);
        }

        foreach (var (name, source) in tracing.HeaderTags ?? new Dictionary<string, Api.Snapshots.CustomTagSource>())
        {
            activity.SetTag(name, request.TryGetHeader(source.Name, out var value) ? value : source.DefaultValue);
        }

        foreach (var (name, source) in tracing.EnvironmentTags ?? new Dictionary<string, Api.Snapshots.CustomTagSource>())
        {
            activity.SetTag(name, Environment.GetEnvironmentVariable(source.Name) ?? source.DefaultValue);
        }

        return activity;
    }

    /// <summary>Envoy's span name: <c>HOST:PORT/*</c> of the destination service, or <c>AUTHORITY/*</c> when none is known.</summary>
    public static string Name(string? serviceHost, int port, string authority) =>
        serviceHost is null ? $"{authority}/*" : $"{serviceHost}:{port.ToString(CultureInfo.InvariantCulture)}/*";

    /// <param name="name">The span's name (<see cref="Name"/>).</param>
    public static void End(Activity activity, ExchangeTelemetry telemetry, in ExchangeOutcome outcome, TimeSpan elapsed, string name, string client)
    {
        activity.DisplayName = name;
        activity.SetTag("http.status_code", outcome.Status.ToString(CultureInfo.InvariantCulture));
        activity.SetTag("response_flags", outcome.Flags.ToShortString());
        activity.SetTag("request_size", telemetry.RequestBytes.ToString(CultureInfo.InvariantCulture));
        activity.SetTag("response_size", telemetry.ResponseBytes.ToString(CultureInfo.InvariantCulture));
        activity.SetTag("downstream_cluster", "-");
        if (client.Length > 0)
        {
            activity.SetTag("peer.address", client);
        }

        if (outcome.Cluster is { } cluster)
        {
            activity.SetTag("upstream_cluster", cluster.Name);
            activity.SetTag("upstream_cluster.name", cluster.Name);
        }

        if (outcome.Endpoint is { } endpoint)
        {
            activity.SetTag("upstream_address", $"{endpoint.Address}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}");
        }

        // Envoy marks a span with error=true for 5xx answers and for requests that got no answer.
        if (outcome.Status is 0 or >= 500)
        {
            activity.SetTag("error", "true");
            activity.SetStatus(ActivityStatusCode.Error);
        }

        activity.SetEndTime(activity.StartTimeUtc + elapsed);
        activity.Stop();
    }
}

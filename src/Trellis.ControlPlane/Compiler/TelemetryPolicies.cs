using Trellis.Api.Networking;
using Trellis.Api.Observability;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// The Telemetry API's settings for one listener, as istiod computes them (pilot's <c>model/telemetry.go</c>): the
/// Telemetry without a selector in the root namespace applies to the mesh, the one without a selector in a namespace to
/// that namespace, one with a selector to the workloads it selects (the oldest wins where several claim one level);
/// a more specific level overrides a less specific one, field by field. Entries apply to the client side (outbound and
/// gateway listeners), the server side (inbound listeners) or both (<c>match.mode</c>). Without any, the mesh
/// configuration's defaults apply: <c>defaultProviders</c>, then the legacy <c>accessLogFile</c>.
/// </summary>
internal static class TelemetryPolicies
{
    /// <summary>The settings of a listener of <paramref name="kind"/> for a workload; null when they are the defaults (metrics only).</summary>
    public static ListenerTelemetryConfig? For(MeshIndex index, string ns, IReadOnlyDictionary<string, string> labels, ListenerKind kind)
    {
        var chain = Chain(index.Telemetries, ns, labels);
        var mode = kind == ListenerKind.Inbound ? WorkloadMode.Server : WorkloadMode.Client;
        var mesh = index.MeshConfig.Telemetry;
        var (metrics, overrides) = MetricPolicies.For(chain, mode, mesh);
        var config = new ListenerTelemetryConfig(AccessLogs(chain, mode, mesh), Tracing(chain, mode, mesh), metrics, overrides);
        return config is { AccessLogs: null, Tracing: null, Metrics: true, MetricOverrides: null } ? null : config;
    }

    /// <summary>Mesh, namespace, workload: the Telemetries that apply, least specific first.</summary>
    private static List<TelemetrySpec> Chain(IReadOnlyList<Scoped<TelemetrySpec>> telemetries, string ns, IReadOnlyDictionary<string, string> labels)
    {
        static bool Unselective(TelemetrySpec s) => s.Selector is null || s.Selector.MatchLabels.Count == 0;
        var chain = new List<TelemetrySpec>();
        if (telemetries.FirstOrDefault(t => t.Namespace == MeshConfig.RootNamespace && Unselective(t.Spec)) is { } mesh)
        {
            chain.Add(mesh.Spec);
        }

        if (ns != MeshConfig.RootNamespace && telemetries.FirstOrDefault(t => t.Namespace == ns && Unselective(t.Spec)) is { } space)
        {
            chain.Add(space.Spec);
        }

        if (telemetries.FirstOrDefault(t => t.Namespace == ns && !Unselective(t.Spec) && Labels.Selects(t.Spec.Selector!.MatchLabels, labels)) is { } workload)
        {
            chain.Add(workload.Spec);
        }

        return chain;
    }

    private static bool Applies(WorkloadMode? written, WorkloadMode mode) => written is null or WorkloadMode.ClientAndServer || written == mode;

    private static List<AccessLogConfig>? AccessLogs(List<TelemetrySpec> chain, WorkloadMode mode, MeshTelemetry mesh)
    {
        // Provider name -> (disabled, filter), more specific levels overriding; an entry without providers means the
        // providers in effect so far (else the mesh's defaults), so "disabled: true" alone turns the inherited log off.
        var providers = new Dictionary<string, (bool Disabled, string? Filter)>(StringComparer.Ordinal);
        var configured = false;
        foreach (var entry in chain.SelectMany(t => t.AccessLogging).Where(e => Applies(e.Match?.Mode, mode)))
        {
            configured = true;
            var names = entry.Providers.Count > 0 ? entry.Providers.Select(p => p.Name).ToList()
                : providers.Count > 0 ? providers.Keys.ToList()
                : [.. mesh.DefaultAccessLogging];
            foreach (var name in names)
            {
                var previous = providers.GetValueOrDefault(name);
                providers[name] = (entry.Disabled ?? false, entry.Filter?.Expression ?? previous.Filter);
            }
        }

        if (!configured)
        {
            foreach (var name in mesh.DefaultAccessLogging)
            {
                providers[name] = (false, null);
            }
        }

        var logs = new List<AccessLogConfig>();
        foreach (var (name, (disabled, filter)) in providers)
        {
            if (!disabled && mesh.Provider(name) is FileAccessLogProvider file)
            {
                logs.Add(new AccessLogConfig(
                    file.Path, file.Labels is null ? AccessLogEncoding.Text : AccessLogEncoding.Json, file.Text, file.Labels, filter));
            }
        }

        // Istio's legacy setting: every proxy logs to accessLogFile unless the Telemetry API says otherwise.
        if (!configured && logs.Count == 0 && mesh.AccessLogFile is { } path)
        {
            logs.Add(new AccessLogConfig(path, mesh.AccessLogEncoding, mesh.AccessLogFormat));
        }

        return logs.Count == 0 ? null : logs;
    }

    private static TracingConfig? Tracing(List<TelemetrySpec> chain, WorkloadMode mode, MeshTelemetry mesh)
    {
        IReadOnlyList<string>? providers = null;
        double? sampling = null;
        var disabled = false;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        var headers = new Dictionary<string, CustomTagSource>(StringComparer.Ordinal);
        var environment = new Dictionary<string, CustomTagSource>(StringComparer.Ordinal);
        foreach (var entry in chain.SelectMany(t => t.Tracing).Where(e => Applies(e.Match?.Mode, mode)))
        {
            providers = entry.Providers.Count > 0 ? entry.Providers.Select(p => p.Name).ToList() : providers;
            sampling = entry.RandomSamplingPercentage ?? sampling;
            disabled = entry.DisableSpanReporting ?? disabled;
            foreach (var (name, tag) in entry.CustomTags)
            {
                // A more specific level's tag of the same name replaces the other's, whatever its kind.
                tags.Remove(name);
                headers.Remove(name);
                environment.Remove(name);
                if (tag.Literal is { } literal)
                {
                    tags[name] = literal.Value;
                }
                else if (tag.Header is { } header)
                {
                    headers[name] = new CustomTagSource(header.Name.ToLowerInvariant(), header.DefaultValue);
                }
                else if (tag.Environment is { } variable)
                {
                    environment[name] = new CustomTagSource(variable.Name, variable.DefaultValue);
                }
            }
        }

        // disableSpanReporting keeps sampling and propagation and sends no span.
        var otel = mesh.EnableTracing && !disabled ? (providers ?? mesh.DefaultTracing).Select(mesh.Provider).OfType<OpenTelemetryProvider>().FirstOrDefault() : null;
        var endpoint = otel is null ? null : $"http://{otel.Service}:{otel.Port}{otel.HttpPath}";
        var protocol = otel?.HttpPath is null ? OtlpProtocol.Grpc : OtlpProtocol.HttpProtobuf;
        var percent = sampling ?? mesh.DefaultSampling;
        return endpoint is null && tags.Count == 0 && headers.Count == 0 && environment.Count == 0 && percent == 1.0
            ? null
            : new TracingConfig(percent, endpoint, protocol, tags.Count == 0 ? null : tags, headers.Count == 0 ? null : headers, environment.Count == 0 ? null : environment);
    }
}

using Trellis.Api.Observability;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api.Networking;

/// <summary>What a sidecar does with a request for a host its view does not hold (Istio <c>OutboundTrafficPolicy.Mode</c>).</summary>
public enum OutboundMode
{
    /// <summary>Pass it through to the address asked for (Istio's default): <c>PassthroughCluster</c>.</summary>
    AllowAny,
    /// <summary>Refuse it: HTTP gets 502 from the <c>block_all</c> route, TCP is closed (<c>BlackHoleCluster</c>).</summary>
    RegistryOnly,
}

/// <summary>
/// The mesh-wide settings Trellis reads from Istio's mesh configuration: the <c>mesh</c> key of the ConfigMap
/// <c>istio</c> in the root namespace <c>istio-system</c>, a YAML <c>MeshConfig</c> as istiod reads it.
/// <c>outboundTrafficPolicy.mode</c> and the telemetry keys (<see cref="MeshTelemetry"/>) have behaviour; other keys are
/// Istio's own settings and are left alone.
/// </summary>
public sealed record MeshConfig(OutboundMode OutboundTrafficPolicy)
{
    /// <summary>Access logs, tracing and metrics providers (<c>accessLogFile</c>, <c>extensionProviders</c>, ...).</summary>
    public MeshTelemetry Telemetry { get; init; } = MeshTelemetry.Default;

    /// <summary>Istio's root namespace: its <c>istio</c> ConfigMap and its selector-less Sidecar apply mesh-wide.</summary>
    public const string RootNamespace = "istio-system";

    public const string ConfigMapName = "istio";

    public const string MeshKey = "mesh";

    public static readonly MeshConfig Default = new(OutboundMode.AllowAny);

    /// <summary>
    /// The fields set in this configuration that Trellis keeps but does not act on: their path under the <c>mesh</c>
    /// value and what is missing, reported as accepted, not enforced (TRL0200) at apply and analyze.
    /// </summary>
    public IEnumerable<(string Path, string Reason)> NotEnforced() =>
        Telemetry.ExtensionProviders
            .Select((provider, index) => (Provider: provider as Security.ExtAuthzHttpProvider, Index: index))
            .Where(p => p.Provider is not null)
            .SelectMany(p => p.Provider!.NotEnforced
                .Select(field => ($"extensionProviders[{p.Index}].envoyExtAuthzHttp.{field}", Security.ExtAuthzHttpProvider.NotActedOn[field])));

    /// <summary>Whether a ConfigMap is the mesh configuration.</summary>
    public static bool IsMeshConfigMap(string ns, string name) => ns == RootNamespace && name == ConfigMapName;

    /// <summary>Istio's words for <see cref="OutboundMode"/>; null for anything else.</summary>
    public static OutboundMode? ParseMode(string? mode) => mode switch
    {
        "ALLOW_ANY" => OutboundMode.AllowAny,
        "REGISTRY_ONLY" => OutboundMode.RegistryOnly,
        _ => null,
    };

    /// <summary>
    /// The settings of a <c>mesh</c> value, or the reason it cannot be read (invalid YAML, not a map, an unknown mode).
    /// A missing or empty value is <see cref="Default"/>.
    /// </summary>
    public static (MeshConfig? Config, string? Error) Parse(string? yaml)
    {
        if (string.IsNullOrWhiteSpace(yaml))
        {
            return (Default, null);
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            return (null, $"line {ex.Start.Line}: {ex.Message}");
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return (Default, null);
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            return (null, "the mesh configuration must be a map");
        }

        var (telemetry, telemetryError) = MeshTelemetry.Parse(root);
        if (telemetry is null)
        {
            return (null, telemetryError);
        }

        var (config, error) = ParseOutbound(root);
        return (config is null ? null : config with { Telemetry = telemetry }, error);
    }

    private static (MeshConfig? Config, string? Error) ParseOutbound(YamlMappingNode root)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode("outboundTrafficPolicy"), out var policy))
        {
            return (Default, null);
        }

        if (policy is not YamlMappingNode policyMap)
        {
            return (null, "outboundTrafficPolicy must be a map");
        }

        if (!policyMap.Children.TryGetValue(new YamlScalarNode("mode"), out var modeNode))
        {
            return (Default, null);
        }

        var written = (modeNode as YamlScalarNode)?.Value;
        return ParseMode(written) is { } mode
            ? (new MeshConfig(mode), null)
            : (null, $"outboundTrafficPolicy.mode: \"{written}\" is not ALLOW_ANY or REGISTRY_ONLY");
    }
}

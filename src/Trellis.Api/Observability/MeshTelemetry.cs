using System.Globalization;
using Trellis.Api.Snapshots;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api.Observability;

/// <summary>An <c>extensionProviders[]</c> entry of the mesh configuration, by the kind of provider it is.</summary>
public abstract record ExtensionProvider(string Name);

/// <summary><c>envoyFileAccessLog</c>: lines to a file (<c>/dev/stdout</c> included), as text or JSON (<c>logFormat.labels</c>).</summary>
public sealed record FileAccessLogProvider(string Name, string Path, string? Text, IReadOnlyDictionary<string, string>? Labels) : ExtensionProvider(Name);

/// <summary><c>opentelemetry</c>: spans over OTLP to <c>service:port</c>, gRPC unless <c>http</c> is set (then HTTP/protobuf at its path).</summary>
public sealed record OpenTelemetryProvider(string Name, string Service, int Port, string? HttpPath) : ExtensionProvider(Name);

/// <summary><c>prometheus</c>: the proxy's <c>/stats/prometheus</c> (the built-in provider of that name is one).</summary>
public sealed record PrometheusProvider(string Name) : ExtensionProvider(Name);

/// <summary>A provider kind Trellis does not speak (zipkin, skywalking, stackdriver, envoyOtelAls, ...): it has no effect.</summary>
public sealed record UnsupportedProvider(string Name, string Kind) : ExtensionProvider(Name);

/// <summary>
/// The telemetry settings of Istio's mesh configuration (istio/api <c>mesh/v1alpha1/config.proto</c>): the legacy access
/// log (<c>accessLogFile</c>, <c>accessLogEncoding</c>, <c>accessLogFormat</c>), <c>extensionProviders</c>,
/// <c>defaultProviders</c>, <c>enableTracing</c> and <c>defaultConfig.tracing.sampling</c>. How they combine with the
/// Telemetry kind: docs/telemetry.md.
/// </summary>
public sealed record MeshTelemetry
{
    public static readonly MeshTelemetry Default = new();

    /// <summary>The built-in providers every mesh has (Istio's <c>envoy</c>, writing to /dev/stdout, and <c>prometheus</c>).</summary>
    public static readonly IReadOnlyList<ExtensionProvider> BuiltIn = [new FileAccessLogProvider("envoy", "/dev/stdout", null, null), new PrometheusProvider("prometheus")];

    public string? AccessLogFile { get; init; }

    public AccessLogEncoding AccessLogEncoding { get; init; }

    public string? AccessLogFormat { get; init; }

    public IReadOnlyList<ExtensionProvider> ExtensionProviders { get; init; } = [];

    public IReadOnlyList<string> DefaultTracing { get; init; } = [];

    /// <summary>Istio's default metrics provider is <c>prometheus</c>.</summary>
    public IReadOnlyList<string> DefaultMetrics { get; init; } = ["prometheus"];

    public IReadOnlyList<string> DefaultAccessLogging { get; init; } = [];

    public bool EnableTracing { get; init; } = true;

    /// <summary>The share of new traces sampled without a Telemetry setting, percent (Istio's default 1).</summary>
    public double DefaultSampling { get; init; } = 1.0;

    /// <summary>A provider by name: the mesh's own first, then the built-in ones; null when there is none.</summary>
    public ExtensionProvider? Provider(string name) =>
        ExtensionProviders.FirstOrDefault(p => p.Name == name) ?? BuiltIn.FirstOrDefault(p => p.Name == name);

    /// <summary>Reads the telemetry keys of a mesh configuration; the error names the key that cannot be read.</summary>
    public static (MeshTelemetry? Telemetry, string? Error) Parse(YamlMappingNode root)
    {
        var result = Default;
        if (Scalar(root, "accessLogFile") is { } file)
        {
            result = result with { AccessLogFile = file.Length == 0 ? null : file };
        }

        if (Scalar(root, "accessLogEncoding") is { } encoding)
        {
            AccessLogEncoding? parsed = encoding switch { "TEXT" => AccessLogEncoding.Text, "JSON" => AccessLogEncoding.Json, _ => null };
            if (parsed is null)
            {
                return (null, $"accessLogEncoding: \"{encoding}\" is not TEXT or JSON");
            }

            result = result with { AccessLogEncoding = parsed.Value };
        }

        if (Scalar(root, "accessLogFormat") is { Length: > 0 } format)
        {
            if (AccessLogFormatSyntax.Tokenize(format, out var error) is null)
            {
                return (null, $"accessLogFormat: {error}");
            }

            result = result with { AccessLogFormat = format };
        }

        if (Scalar(root, "enableTracing") is { } enable)
        {
            if (!bool.TryParse(enable, out var on))
            {
                return (null, $"enableTracing: \"{enable}\" is not true or false");
            }

            result = result with { EnableTracing = on };
        }

        if (Child(root, "defaultConfig") is YamlMappingNode proxyConfig && Child(proxyConfig, "tracing") is YamlMappingNode tracing
            && Scalar(tracing, "sampling") is { } sampling)
        {
            if (!double.TryParse(sampling, NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) || percent is < 0 or > 100)
            {
                return (null, $"defaultConfig.tracing.sampling: \"{sampling}\" is not a percentage from 0 to 100");
            }

            result = result with { DefaultSampling = percent };
        }

        if (Child(root, "defaultProviders") is { } defaults)
        {
            if (defaults is not YamlMappingNode map)
            {
                return (null, "defaultProviders must be a map");
            }

            result = result with
            {
                DefaultTracing = Names(map, "tracing") ?? result.DefaultTracing,
                DefaultMetrics = Names(map, "metrics") ?? result.DefaultMetrics,
                DefaultAccessLogging = Names(map, "accessLogging") ?? result.DefaultAccessLogging,
            };
        }

        if (Child(root, "extensionProviders") is { } providers)
        {
            var (list, error) = ExtensionProviderList(providers);
            if (list is null)
            {
                return (null, error);
            }

            result = result with { ExtensionProviders = list };
        }

        return (result, null);
    }

    private static (List<ExtensionProvider>?, string?) ExtensionProviderList(YamlNode node)
    {
        if (node is not YamlSequenceNode sequence)
        {
            return (null, "extensionProviders must be a list");
        }

        var list = new List<ExtensionProvider>();
        for (var i = 0; i < sequence.Children.Count; i++)
        {
            var at = $"extensionProviders[{i}]";
            if (sequence.Children[i] is not YamlMappingNode entry || Scalar(entry, "name") is not { Length: > 0 } name)
            {
                return (null, $"{at}.name is required");
            }

            if (list.Any(p => p.Name == name))
            {
                return (null, $"{at}.name: \"{name}\" is defined twice");
            }

            var kinds = entry.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value!).Where(k => k != "name").ToList();
            if (kinds.Count != 1)
            {
                return (null, $"{at}: exactly one provider kind is expected, found {kinds.Count}");
            }

            var (provider, error) = kinds[0] switch
            {
                "envoyFileAccessLog" => FileProvider(name, entry.Children[new YamlScalarNode("envoyFileAccessLog")]),
                "opentelemetry" => OtelProvider(name, entry.Children[new YamlScalarNode("opentelemetry")]),
                "prometheus" => (new PrometheusProvider(name), null),
                "envoyExtAuthzHttp" => Security.ExtAuthzHttpProvider.Parse(name, entry.Children[new YamlScalarNode("envoyExtAuthzHttp")]),
                var other => (new UnsupportedProvider(name, other), null),
            };
            if (provider is null)
            {
                return (null, $"{at}.{kinds[0]}{error}");
            }

            list.Add(provider);
        }

        return (list, null);
    }

    private static (ExtensionProvider?, string?) FileProvider(string name, YamlNode node)
    {
        var map = node as YamlMappingNode;
        var path = map is null ? null : Scalar(map, "path");
        if (string.IsNullOrEmpty(path))
        {
            return (null, ".path is required");
        }

        if (map is null || Child(map, "logFormat") is not YamlMappingNode logFormat)
        {
            return (new FileAccessLogProvider(name, path, null, null), null);
        }

        if (Scalar(logFormat, "text") is { } text)
        {
            return AccessLogFormatSyntax.Tokenize(text, out var error) is null ? (null, $".logFormat.text: {error}") : (new FileAccessLogProvider(name, path, text, null), null);
        }

        if (Child(logFormat, "labels") is YamlMappingNode labels)
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in labels.Children)
            {
                var k = (key as YamlScalarNode)?.Value ?? "";
                var v = (value as YamlScalarNode)?.Value ?? "";
                if (AccessLogFormatSyntax.Tokenize(v, out var error) is null)
                {
                    return (null, $".logFormat.labels.{k}: {error}");
                }

                fields[k] = v;
            }

            return (new FileAccessLogProvider(name, path, null, fields), null);
        }

        return (new FileAccessLogProvider(name, path, null, null), null);
    }

    private static (ExtensionProvider?, string?) OtelProvider(string name, YamlNode node)
    {
        var map = node as YamlMappingNode;
        var service = map is null ? null : Scalar(map, "service");
        if (string.IsNullOrEmpty(service))
        {
            return (null, ".service is required");
        }

        var portText = Scalar(map!, "port");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return (null, $".port: \"{portText}\" is not a port number");
        }

        string? httpPath = null;
        if (Child(map!, "http") is { } http)
        {
            httpPath = (http as YamlMappingNode) is { } h && Scalar(h, "path") is { Length: > 0 } p ? (p.StartsWith('/') ? p : "/" + p) : "/v1/traces";
        }

        return (new OpenTelemetryProvider(name, service, port, httpPath), null);
    }

    private static List<string>? Names(YamlMappingNode map, string key) =>
        Child(map, key) is YamlSequenceNode list ? list.Children.OfType<YamlScalarNode>().Select(n => n.Value ?? "").ToList() : null;

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

    private static string? Scalar(YamlMappingNode map, string key) => Child(map, key) is YamlScalarNode s ? s.Value ?? "" : null;
}

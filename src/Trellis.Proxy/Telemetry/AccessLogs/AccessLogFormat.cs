using System.Globalization;
using System.Text;
using System.Text.Json;
using Trellis.Api.Observability;
using Trellis.Proxy.Pipeline;

namespace Trellis.Proxy.Telemetry.AccessLogs;

/// <summary>
/// An Envoy access-log format string (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage),
/// parsed once: literal text and the command operators Trellis knows, each written from an <see cref="AccessLogEntry"/>.
/// <see cref="IstioText"/> is Istio's default (<c>meshConfig.accessLogFormat</c> unset); <see cref="IstioJson"/> its JSON
/// encoding's default keys. A value that is not known is <c>-</c>, as Envoy writes it.
/// </summary>
internal sealed class AccessLogFormat
{
    /// <summary>Istio's default text format (istio/istio pilot/pkg/model/telemetry_logging.go, EnvoyTextLogFormat).</summary>
    public const string IstioTextFormat =
        "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% "
        + "%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% "
        + "%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" "
        + "\"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% "
        + "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

    /// <summary>Istio's JSON access log keys (EnvoyJSONLogFormatIstio), plus the trace id the issue asks for.</summary>
    private static readonly (string Key, string Operator)[] IstioJsonFields =
    [
        ("start_time", "%START_TIME%"), ("method", "%REQ(:METHOD)%"), ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
        ("protocol", "%PROTOCOL%"), ("response_code", "%RESPONSE_CODE%"), ("response_flags", "%RESPONSE_FLAGS%"),
        ("response_code_details", "%RESPONSE_CODE_DETAILS%"), ("connection_termination_details", "%CONNECTION_TERMINATION_DETAILS%"),
        ("upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"), ("bytes_received", "%BYTES_RECEIVED%"),
        ("bytes_sent", "%BYTES_SENT%"), ("duration", "%DURATION%"), ("upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"),
        ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"), ("user_agent", "%REQ(USER-AGENT)%"), ("request_id", "%REQ(X-REQUEST-ID)%"),
        ("authority", "%REQ(:AUTHORITY)%"), ("upstream_host", "%UPSTREAM_HOST%"), ("upstream_cluster", "%UPSTREAM_CLUSTER_RAW%"),
        ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"), ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
        ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"), ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
        ("route_name", "%ROUTE_NAME%"), ("trace_id", "%TRACE_ID%"),
    ];

    private readonly FormatToken[] _tokens;
    private readonly string[]? _jsonKeys;

    private AccessLogFormat(FormatToken[] tokens, string[]? jsonKeys)
    {
        _tokens = tokens;
        _jsonKeys = jsonKeys;
        RequestHeaders = tokens.Where(t => t.Kind == FormatTokenKind.Request).SelectMany(t => new[] { t.Name, t.Fallback })
            .OfType<string>().Where(h => !h.StartsWith(':')).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
    }

    public static readonly AccessLogFormat IstioText = Parse(IstioTextFormat, out _)!;

    public static readonly AccessLogFormat IstioJson = ParseJson(IstioJsonFields.ToDictionary(f => f.Key, f => f.Operator), out _)!;

    /// <summary>The request fields (other than pseudo-headers) a line needs: read while the request head is still there.</summary>
    public string[] RequestHeaders { get; }

    /// <summary>A text format; null and <paramref name="error"/> when an operator is unknown or malformed.</summary>
    public static AccessLogFormat? Parse(string format, out string? error)
    {
        var tokens = AccessLogFormatSyntax.Tokenize(format, out error);
        return tokens is null ? null : new AccessLogFormat(tokens, null);
    }

    /// <summary>A JSON format (Envoy's <c>json_format</c>): each key's value is one format string.</summary>
    public static AccessLogFormat? ParseJson(IReadOnlyDictionary<string, string> fields, out string? error)
    {
        var tokens = new List<FormatToken>();
        foreach (var (key, value) in fields)
        {
            var parsed = AccessLogFormatSyntax.Tokenize(value, out error);
            if (parsed is null)
            {
                error = $"{key}: {error}";
                return null;
            }

            tokens.Add(parsed.Length == 1 ? parsed[0] : new FormatToken(FormatTokenKind.Literal, value, null, 0));
        }

        error = null;
        return new AccessLogFormat([.. tokens], [.. fields.Keys]);
    }

    /// <summary>One line (text) or one JSON object followed by a newline.</summary>
    public string Format(AccessLogEntry entry)
    {
        var line = new StringBuilder(256);
        if (_jsonKeys is null)
        {
            foreach (var token in _tokens)
            {
                line.Append(Value(token, entry) ?? "-");
            }

            return line.ToString();
        }

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            for (var i = 0; i < _tokens.Length; i++)
            {
                var value = Value(_tokens[i], entry);
                if (value is null)
                {
                    json.WriteNull(_jsonKeys[i]);
                }
                else if (_tokens[i].Numeric && long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
                {
                    json.WriteNumber(_jsonKeys[i], number);
                }
                else
                {
                    json.WriteString(_jsonKeys[i], value);
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static string? Value(FormatToken token, AccessLogEntry e) => token.Kind switch
    {
        FormatTokenKind.Literal => token.Name,
        FormatTokenKind.Request => Truncate(e.RequestHeader(token.Name!) ?? (token.Fallback is null ? null : e.RequestHeader(token.Fallback)), token.Limit),
        FormatTokenKind.Response => Truncate(e.ResponseHeader(token.Name!), token.Limit),
        _ => token.Name switch
        {
            // Envoy's default START_TIME: ISO 8601 with milliseconds, UTC.
            "START_TIME" => e.Start.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            "PROTOCOL" => e.Protocol,
            "RESPONSE_CODE" => e.Status.ToString(CultureInfo.InvariantCulture),
            "RESPONSE_FLAGS" => e.Flags.ToShortString(),
            "RESPONSE_CODE_DETAILS" => e.Details,
            "BYTES_RECEIVED" => e.BytesReceived.ToString(CultureInfo.InvariantCulture),
            "BYTES_SENT" => e.BytesSent.ToString(CultureInfo.InvariantCulture),
            "DURATION" => ((long)e.Duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "UPSTREAM_HOST" => e.UpstreamHost,
            "UPSTREAM_CLUSTER" or "UPSTREAM_CLUSTER_RAW" => e.UpstreamCluster,
            "DOWNSTREAM_LOCAL_ADDRESS" => e.DownstreamLocal,
            "DOWNSTREAM_REMOTE_ADDRESS" => e.DownstreamRemote,
            "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT" => WithoutPort(e.DownstreamRemote),
            "ROUTE_NAME" => e.Route,
            "TRACE_ID" => e.TraceId,
            AccessLogFormatSyntax.AccessLogHint => e.Audited ? "true" : null,
            _ => null,
        },
    };

    private static string? Truncate(string? value, int limit) => limit > 0 && value is { Length: var n } && n > limit ? value[..limit] : value;

    private static string? WithoutPort(string? address)
    {
        var colon = address?.LastIndexOf(':') ?? -1;
        return colon > 0 && address![..colon] is var host && !host.EndsWith(':') ? host.Trim('[', ']') : address;
    }
}

using Trellis.Api.Observability;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Telemetry.AccessLogs;

/// <summary>One access log of a listener, ready for requests: its format parsed, its filter compiled, its file open.</summary>
/// <param name="Tail">The workload's recent lines (<see cref="AccessLogTails"/>); null when not kept.</param>
internal sealed record ListenerAccessLog(AccessLogFormat Format, LogFilterExpression? Filter, AccessLogWriter Writer, Live.RecordRing<string>? Tail = null)
{
    /// <summary>
    /// Compiles <paramref name="config"/>. The control plane validated the format and the filter at apply; a static
    /// snapshot with a bad one falls back to Istio's default line and to logging every request, rather than to no log.
    /// </summary>
    public static ListenerAccessLog From(AccessLogConfig config, AccessLogSinks sinks, Live.RecordRing<string>? tail = null)
    {
        var format = config switch
        {
            { JsonFields: { } fields } => AccessLogFormat.ParseJson(fields, out _),
            { Format: { } text } => AccessLogFormat.Parse(WithNewline(text), out _),
            { Encoding: AccessLogEncoding.Json } => AccessLogFormat.IstioJson,
            _ => AccessLogFormat.IstioText,
        };
        var filter = config.Filter is { } expression ? LogFilterExpression.Parse(expression, out _) : null;
        return new ListenerAccessLog(format ?? AccessLogFormat.IstioText, filter, sinks.For(config.Path), tail);
    }

    /// <summary>The request fields (beyond the pseudo-headers) the format and the filter read.</summary>
    public IEnumerable<string> RequestHeaders => Format.RequestHeaders.Concat(Filter?.Headers ?? []);

    /// <summary>"Istio will insert a newline ('\n') on all formats (if missing)" (meshConfig.accessLogFormat).</summary>
    private static string WithNewline(string format) => format.EndsWith('\n') ? format : format + "\n";
}

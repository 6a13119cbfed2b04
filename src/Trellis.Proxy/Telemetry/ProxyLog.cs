using System.Net;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// All log events of the proxy. Ids are stable and never reused: 1xx snapshots, 2xx listeners,
/// 3xx requests. The generated methods check the level first, so a disabled access log costs a
/// branch, not a formatted string.
/// </summary>
internal static partial class ProxyLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Node {Node} accepted snapshot {Version}: {Listeners} listeners, {Clusters} clusters")]
    public static partial void SnapshotAccepted(ILogger logger, string node, string version, int listeners, int clusters);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Node {Node} rejected snapshot {Version} with {Count} errors; first: {FirstError}")]
    public static partial void SnapshotRejected(ILogger logger, string node, string version, int count, string firstError);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Listener {Listener} serving on {EndPoint} ({Protocols})")]
    public static partial void ListenerStarted(ILogger logger, string listener, IPEndPoint endPoint, string protocols);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Listener {Listener} on {EndPoint} stopped")]
    public static partial void ListenerStopped(ILogger logger, string listener, IPEndPoint endPoint);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Listener {Listener} did not stop cleanly")]
    public static partial void ListenerStopFailed(ILogger logger, string listener, Exception exception);

    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "{Listener} \"{Method} {Authority}{Path}\" {Status} {Error} route={Route} cluster={Cluster} upstream={Upstream} {DurationMs}ms")]
    public static partial void AccessLog(
        ILogger logger, string listener, string method, string authority, string path, int status, ForwardError error,
        string route, string cluster, string upstream, double durationMs);

    [LoggerMessage(EventId = 301, Level = LogLevel.Debug, Message = "Forwarding to {Upstream} failed with {Error}")]
    public static partial void ForwardFailed(ILogger logger, string upstream, ForwardError error, Exception? exception);
}

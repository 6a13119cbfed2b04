using System.Net;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// All log events of the proxy. Ids are stable and never reused: 1xx snapshots, 2xx listeners,
/// 3xx requests, 4xx serving (queue-proxy limits, activation). The generated methods check the level first, so a disabled access log costs a
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

    [LoggerMessage(EventId = 400, Level = LogLevel.Debug, Message = "Listener {Listener}: revision instance queue full ({Capacity} running, {QueueDepth} queued); answered 503")]
    public static partial void InstanceOverloaded(ILogger logger, string listener, int capacity, int queueDepth);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Demand for cluster {Cluster}: {Waiting} requests waiting for an endpoint")]
    public static partial void DemandRaised(ILogger logger, string cluster, int waiting);

    [LoggerMessage(EventId = 402, Level = LogLevel.Error, Message = "A DemandRaised handler failed for cluster {Cluster}")]
    public static partial void DemandHandlerFailed(ILogger logger, string cluster, Exception exception);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Cluster {Cluster}: activation queue full ({Capacity}); answered 503")]
    public static partial void ActivationQueueFull(ILogger logger, string cluster, int capacity);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "Cluster {Cluster}: no endpoint within {Timeout}; answered 503")]
    public static partial void ActivationTimedOut(ILogger logger, string cluster, TimeSpan timeout);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "Cluster {Cluster}: {Released} held requests released to its endpoints")]
    public static partial void HeldRequestsReleased(ILogger logger, string cluster, int released);

    [LoggerMessage(EventId = 310, Level = LogLevel.Debug, Message = "Listener {Listener}: HTTP/2 connection from {Client} ended: {Error} ({Reason})")]
    public static partial void Http2ConnectionError(ILogger logger, string listener, string client, string error, string reason);

    [LoggerMessage(EventId = 311, Level = LogLevel.Error, Message = "Listener {Listener}: HTTP/2 connection from {Client} failed")]
    public static partial void Http2ConnectionFailed(ILogger logger, string listener, string client, Exception exception);
}

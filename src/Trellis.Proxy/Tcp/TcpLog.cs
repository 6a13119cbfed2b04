using Microsoft.Extensions.Logging;

namespace Trellis.Proxy.Tcp;

/// <summary>The TCP proxy's log events (ids 6xx).</summary>
internal static partial class TcpLog
{
    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Listener {Listener} relaying TCP on {EndPoint}")]
    public static partial void ListenerStarted(ILogger logger, string listener, System.Net.IPEndPoint endPoint);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Listener {Listener} on {EndPoint} stopped")]
    public static partial void ListenerStopped(ILogger logger, string listener, System.Net.IPEndPoint endPoint);

    [LoggerMessage(EventId = 602, Level = LogLevel.Debug, Message = "{Listener}: connection closed at once, route {Route}: {Reason}")]
    public static partial void Refused(ILogger logger, string listener, string route, string reason);

    [LoggerMessage(EventId = 603, Level = LogLevel.Debug, Message = "{Listener}: connecting to {Upstream} of {Cluster} failed: {Error}")]
    public static partial void ConnectFailed(ILogger logger, string listener, string cluster, string upstream, string error);

    [LoggerMessage(EventId = 604, Level = LogLevel.Debug, Message = "{Listener}: connection via {Route} to {Upstream} of {Cluster} ended ({End}): received {Received} B, sent {Sent} B in {DurationMs} ms")]
    public static partial void Closed(ILogger logger, string listener, string route, string cluster, string upstream, TcpRelayEnd end, long received, long sent, long durationMs);

    [LoggerMessage(EventId = 605, Level = LogLevel.Warning, Message = "Listener {Listener}: accepting failed")]
    public static partial void AcceptFailed(ILogger logger, string listener, Exception error);
}

namespace Bookinfo;

/// <summary>Source-generated log lines; event ids are stable.</summary>
internal static partial class BookinfoLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Method} {Path} {Status} {Milliseconds:0.0}ms")]
    public static partial void Request(this ILogger logger, string method, string path, int status, double milliseconds);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Call to {Url} failed: {Reason}")]
    public static partial void UpstreamFailed(this ILogger logger, string url, string reason);
}

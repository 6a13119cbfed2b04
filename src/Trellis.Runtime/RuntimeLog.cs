using Microsoft.Extensions.Logging;

namespace Trellis.Runtime;

/// <summary>Source-generated log messages of the runtime; event ids are stable and never reused.</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Instance {Instance} started: pid {Pid}, port {Port}, command {Command}")]
    public static partial void InstanceStarted(this ILogger logger, string instance, int pid, int port, string command);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Instance {Instance} could not start: {Reason}")]
    public static partial void InstanceStartFailed(this ILogger logger, string instance, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Instance {Instance} exited with code {ExitCode}; restarting in {Backoff} (restarts so far: {Restarts})")]
    public static partial void InstanceCrashed(this ILogger logger, string instance, int? exitCode, TimeSpan backoff, int restarts);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Instance {Instance} is ready")]
    public static partial void InstanceReady(this ILogger logger, string instance);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Instance {Instance} is no longer ready")]
    public static partial void InstanceNotReady(this ILogger logger, string instance);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Stopping instance {Instance}: SIGTERM, grace period {Grace}")]
    public static partial void InstanceStopping(this ILogger logger, string instance, TimeSpan grace);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Instance {Instance} outlived its grace period; sending SIGKILL")]
    public static partial void InstanceKilled(this ILogger logger, string instance);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Instance {Instance} stopped with exit code {ExitCode}")]
    public static partial void InstanceStopped(this ILogger logger, string instance, int? exitCode);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error, Message = "A handler of Supervisor.Changed threw")]
    public static partial void ChangedHandlerFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Workload {Namespace}/{Workload}: creating instance {Instance} (revision {Revision})")]
    public static partial void InstanceCreated(this ILogger logger, string @namespace, string workload, string instance, string revision);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Workload {Namespace}/{Workload}: removing instance {Instance} ({Reason})")]
    public static partial void InstanceRemoving(this ILogger logger, string @namespace, string workload, string instance, string reason);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Instance {Instance} is draining: out of endpoint sets, SIGTERM in {Delay}")]
    public static partial void InstanceDraining(this ILogger logger, string instance, TimeSpan delay);

    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "Pre-warmed pool off: {Reason}")]
    public static partial void PoolUnavailable(this ILogger logger, string reason);

    [LoggerMessage(EventId = 31, Level = LogLevel.Debug, Message = "Pool host {Host} is warm: pid {Pid}, after {Elapsed}")]
    public static partial void PoolHostReady(this ILogger logger, string host, int pid, TimeSpan elapsed);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "Pool host {Host} failed: {Reason} (log {Log})")]
    public static partial void PoolHostFailed(this ILogger logger, string host, string reason, string log);

    [LoggerMessage(EventId = 33, Level = LogLevel.Warning, Message = "Pool host {Host} died idle with exit code {ExitCode} (log {Log}); replacing it")]
    public static partial void PoolHostDied(this ILogger logger, string host, int exitCode, string log);

    [LoggerMessage(EventId = 34, Level = LogLevel.Information, Message = "Instance {Instance} runs in pool host {Host} (pid {Pid})")]
    public static partial void PoolHostTaken(this ILogger logger, string host, int pid, string instance);

    [LoggerMessage(EventId = 35, Level = LogLevel.Warning, Message = "Pool host {Host} could not become instance {Instance}: {Reason} (log {Log}); starting a plain process")]
    public static partial void PoolSpecializeFailed(this ILogger logger, string host, string instance, string reason, string log);

    [LoggerMessage(EventId = 36, Level = LogLevel.Information, Message = "Instance {Instance}: the pre-warmed pool is empty; starting a plain process")]
    public static partial void PoolEmpty(this ILogger logger, string instance);

    [LoggerMessage(EventId = 37, Level = LogLevel.Information, Message = "Instance {Instance} asks for the pre-warmed pool but cannot use it: {Reason}; starting a plain process")]
    public static partial void PoolNotEligible(this ILogger logger, string instance, string reason);

    [LoggerMessage(EventId = 38, Level = LogLevel.Warning, Message = "Stopped process group {Pid} ({What}) left running by a previous agent on this data directory")]
    public static partial void PreviousProcessReaped(this ILogger logger, int pid, string what);
}

namespace Trellis.Runtime;

/// <summary>Node-wide settings of a <see cref="Supervisor"/>.</summary>
public sealed record SupervisorOptions
{
    /// <summary>Root for the supervisor's files; instance logs go to <c>logs/&lt;instance&gt;.log</c> under it.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Delay before the first restart of a crashed process; doubles per crash.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Cap of the restart delay.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a ready instance that is being removed (scale-down, replacement, deletion) stays up,
    /// not ready, before its SIGTERM: the time the registry needs to take it out of every proxy's
    /// endpoints, so no new request reaches a process that is shutting down. Zero: SIGTERM at once.
    /// </summary>
    public TimeSpan DrainDelay { get; init; }

    /// <summary>Address on which ports are allocated and probed.</summary>
    public string Host { get; init; } = "127.0.0.1";
}

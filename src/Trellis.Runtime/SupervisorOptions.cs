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

    /// <summary>
    /// Idle pre-warmed .NET hosts to keep (<c>trellis-poolhost</c>, <see cref="PoolHostPath"/>): an
    /// instance of a workload with <see cref="WorkloadSpec.Pool"/> = "dotnet" starts in one of them on
    /// its first start when it qualifies (Pool/PoolEligibility.cs). 0 (the default here) turns the
    /// pool off.
    /// </summary>
    public int PoolSize { get; init; }

    /// <summary>The pool host's dll (built to <c>trellis-poolhost.dll</c> next to the trellis CLI).</summary>
    public string? PoolHostPath { get; init; }

    /// <summary>Wait after a host was taken before warming its replacement, so the warm-up does not
    /// compete for CPU with the start that took the host.</summary>
    public TimeSpan PoolRefillDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Address on which ports are allocated and probed.</summary>
    public string Host { get; init; } = "127.0.0.1";
}

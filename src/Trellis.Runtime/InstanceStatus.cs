namespace Trellis.Runtime;

/// <summary>A snapshot of one instance, as reported by <see cref="Supervisor.Instances"/>.</summary>
/// <param name="Id">Pod-like name: <c>&lt;workload&gt;-&lt;5 random [a-z0-9]&gt;</c>.</param>
/// <param name="Workload">The workload (deployment) name.</param>
/// <param name="Namespace">The workload's namespace.</param>
/// <param name="Labels">The workload's labels.</param>
/// <param name="Phase">Where the instance is in its lifecycle.</param>
/// <param name="Ready">True when the readiness probe passes; only then should it receive traffic.</param>
/// <param name="Pid">Process id while a process runs (also its process group id where setsid is available).</param>
/// <param name="Port">The app port, given to the process as PORT; stable across restarts.</param>
/// <param name="Ports">The extra ports by name; stable across restarts.</param>
/// <param name="Restarts">How many times the process was restarted after exiting.</param>
/// <param name="StartedAt">When the current (or last) process started.</param>
/// <param name="LastExitCode">Exit code of the last process (128 + signal when killed by a signal).</param>
/// <param name="Message">Why the instance is in its phase, when there is something to say.</param>
/// <param name="LogPath">File holding the process' stdout and stderr across restarts.</param>
public sealed record InstanceStatus(
    string Id,
    string Workload,
    string Namespace,
    IReadOnlyDictionary<string, string> Labels,
    InstancePhase Phase,
    bool Ready,
    int? Pid,
    int Port,
    IReadOnlyDictionary<string, int> Ports,
    int Restarts,
    DateTimeOffset? StartedAt,
    int? LastExitCode,
    string? Message,
    string LogPath)
{
    /// <summary>When <see cref="Ready"/> last changed (Kubernetes' Ready condition lastTransitionTime); null until the first probe decided.</summary>
    public DateTimeOffset? ReadyAt { get; init; }
}

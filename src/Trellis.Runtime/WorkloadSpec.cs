namespace Trellis.Runtime;

/// <summary>
/// What to run for one workload (a Deployment's pod template, flattened for a local process).
/// The supervisor converges the node to a list of these; see <see cref="Supervisor.Reconcile"/>.
/// </summary>
/// <param name="Name">Deployment name, e.g. <c>reviews-v2</c>; instance ids are <c>&lt;Name&gt;-&lt;5 chars&gt;</c>.</param>
/// <param name="Namespace">Namespace of the workload; (Namespace, Name) identifies it.</param>
/// <param name="Labels">Pod template labels, copied to every instance.</param>
/// <param name="Replicas">How many instances to keep running.</param>
/// <param name="Command">Executable; resolved on PATH when it has no '/', against the working directory when relative.</param>
/// <param name="Args">Arguments, passed as-is (no shell).</param>
/// <param name="Env">Environment added to the supervisor's own.</param>
/// <param name="WorkingDirectory">Relative paths resolve against the supervisor's current directory; null means that directory.</param>
/// <param name="Readiness">Null means ready once the app port accepts TCP connections.</param>
/// <param name="TerminationGracePeriod">Time between SIGTERM and SIGKILL.</param>
/// <param name="ExtraPortNames">Names of extra free ports to allocate per instance (e.g. "inbound", "outbound").</param>
public sealed record WorkloadSpec(
    string Name,
    string Namespace,
    IReadOnlyDictionary<string, string> Labels,
    int Replicas,
    string Command,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Env,
    string? WorkingDirectory,
    ProbeSpec? Readiness,
    TimeSpan TerminationGracePeriod,
    IReadOnlyList<string> ExtraPortNames)
{
    /// <summary>
    /// A stable hash of everything but <see cref="Replicas"/>: instances whose revision differs from
    /// their workload's are replaced. Computed on each read because a <c>with</c> expression would
    /// copy a cached value along with the changed fields.
    /// </summary>
    public string Revision => WorkloadRevision.Compute(this);

    /// <summary>
    /// Null for a plain process start; "dotnet" to start in a pre-warmed .NET host of the node's pool
    /// when the command qualifies (<c>dotnet APP.dll</c>, see <see cref="SupervisorOptions.PoolSize"/>),
    /// with a plain start as the fallback. Restarts are always plain starts.
    /// </summary>
    public string? Pool { get; init; }

    /// <summary>
    /// True to bind the app port in the supervisor and pass the listening socket to the process
    /// (systemd's socket activation, <see cref="Activation.ListenSocket"/>), for apps that take it;
    /// PORT is set as well. Plain starts only: a pooled host binds PORT itself.
    /// </summary>
    public bool SocketActivation { get; init; }
}

namespace Trellis.Runtime;

/// <summary>Lifecycle of one instance (a local process standing in for a pod).</summary>
public enum InstancePhase
{
    /// <summary>Created; its process has not been started yet.</summary>
    Pending,

    /// <summary>Process started, not yet ready since this start.</summary>
    Starting,

    /// <summary>Process running and was ready, but its readiness probe now fails.</summary>
    Running,

    /// <summary>Process running and its readiness probe passes.</summary>
    Ready,

    /// <summary>Stop requested: SIGTERM sent, waiting for exit or the grace period.</summary>
    Terminating,

    /// <summary>Process gone and will not be restarted.</summary>
    Exited,

    /// <summary>Process exited on its own; waiting for the backoff delay before restarting it.</summary>
    CrashLoopBackOff,
}

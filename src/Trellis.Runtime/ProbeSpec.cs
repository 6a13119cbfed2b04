namespace Trellis.Runtime;

/// <summary>A readiness probe, with Kubernetes' field meanings.</summary>
/// <param name="Kind">TCP connect or HTTP GET against the instance's app port.</param>
/// <param name="Path">HTTP path (default "/"); ignored for TCP.</param>
/// <param name="InitialDelay">Wait after the process starts before the first probe.</param>
/// <param name="Period">Interval between probes once the instance has been ready.</param>
/// <param name="Timeout">Per-attempt limit.</param>
/// <param name="FailureThreshold">Consecutive failures that make a ready instance not ready.</param>
/// <param name="SuccessThreshold">Consecutive successes that make an instance ready.</param>
public sealed record ProbeSpec(
    ProbeKind Kind,
    string? Path,
    TimeSpan InitialDelay,
    TimeSpan Period,
    TimeSpan Timeout,
    int FailureThreshold,
    int SuccessThreshold)
{
    /// <summary>The probe used when a workload declares none: TCP on the app port.</summary>
    internal static ProbeSpec DefaultTcp { get; } =
        new(ProbeKind.Tcp, null, TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), 3, 1);
}

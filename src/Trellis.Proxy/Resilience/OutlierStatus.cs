namespace Trellis.Proxy.Resilience;

/// <summary>An endpoint's outlier state as <c>trellis describe</c> and <c>route explain</c> show it.</summary>
/// <param name="Ejected">Load balancing skips it (unless the cluster is in panic).</param>
/// <param name="EjectedUntil">When its ejection time is up (it returns at the first review after); null when serving.</param>
/// <param name="TimesEjected">Ejections so far.</param>
/// <param name="Multiplier">The next ejection lasts <c>baseEjectionTime × (Multiplier + 1)</c>, up to the max.</param>
internal readonly record struct OutlierStatus(
    bool Ejected,
    DateTimeOffset? EjectedUntil,
    int TimesEjected,
    int Multiplier,
    int Consecutive5xx,
    int ConsecutiveGatewayErrors,
    int ConsecutiveLocalOriginFailures);

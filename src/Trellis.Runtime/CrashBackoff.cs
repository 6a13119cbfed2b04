namespace Trellis.Runtime;

/// <summary>
/// The restart delay of a crashing process, Kubernetes' rule: the first restart waits the initial
/// backoff, each further one twice the previous, capped; a process that ran for
/// <see cref="ResetAfter"/> before exiting starts the sequence over.
/// </summary>
internal static class CrashBackoff
{
    /// <summary>Run time after which a crash is treated as the first one again (kubelet: 10 minutes).</summary>
    public static readonly TimeSpan ResetAfter = TimeSpan.FromMinutes(10);

    /// <param name="previous">The delay before the last restart; null when the process has not crashed before.</param>
    /// <param name="ranFor">How long the process that just exited had been running.</param>
    /// <param name="initial">First delay.</param>
    /// <param name="max">Cap.</param>
    public static TimeSpan Next(TimeSpan? previous, TimeSpan ranFor, TimeSpan initial, TimeSpan max)
    {
        if (previous is not { } last || ranFor >= ResetAfter)
        {
            return initial < max ? initial : max;
        }

        // Doubling in ticks cannot overflow before the cap for any sane cap; guard anyway.
        var doubled = last.Ticks > max.Ticks / 2 ? max : last * 2;
        return doubled < max ? doubled : max;
    }
}

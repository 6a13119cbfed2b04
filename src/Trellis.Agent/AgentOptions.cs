namespace Trellis.Agent;

public sealed record AgentOptions
{
    /// <summary>This host's name in the registry (<c>trellis get pods -o wide</c> shows it).</summary>
    public string Node { get; init; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>The control plane's HTTP API.</summary>
    public required Uri ControlPlane { get; init; }

    /// <summary>The control plane's push endpoint (HTTP/2) for this host's node proxy.</summary>
    public required Uri Push { get; init; }

    /// <summary>Where instance logs are kept.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>How often the agent re-reports its instances when nothing changed, so the registry knows it is alive.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a removed instance stays up, out of endpoint sets, before its SIGTERM (see
    /// <see cref="Trellis.Runtime.SupervisorOptions.DrainDelay"/>). On one host a registry change
    /// reaches every proxy in tens of milliseconds; a second leaves room for a loaded machine.
    /// </summary>
    public TimeSpan DrainDelay { get; init; } = TimeSpan.FromSeconds(1);
}

using Trellis.Api.Registry;

namespace Trellis.Agent;

public sealed record AgentOptions
{
    /// <summary>This host's name in the registry (<c>trellis get pods -o wide</c> shows it).</summary>
    public string Node { get; init; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>
    /// The address other nodes reach this host at: instances register with it, and their inbound
    /// listeners are bound on it. 127.0.0.1 keeps everything on this host.
    /// </summary>
    public string Address { get; init; } = "127.0.0.1";

    /// <summary>Node labels for Deployments' <c>nodeSelector</c> (<c>--label k=v</c>).</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>What the scheduler may place here; default: this host's processors and the memory .NET sees.</summary>
    public NodeCapacity Capacity { get; init; } = new(Environment.ProcessorCount * 1000L, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);

    /// <summary>The control plane's HTTP API.</summary>
    public required Uri ControlPlane { get; init; }

    /// <summary>The control plane's push endpoint (HTTP/2) for this host's node proxy.</summary>
    public required Uri Push { get; init; }

    /// <summary>Every control-plane replica's API (<c>--server a,b</c>); empty means <see cref="ControlPlane"/> alone.</summary>
    public IReadOnlyList<Uri> ControlPlaneReplicas { get; init; } = [];

    /// <summary>Every replica's push endpoint (<c>--push a,b</c>); empty means <see cref="Push"/> alone.</summary>
    public IReadOnlyList<Uri> PushReplicas { get; init; } = [];

    internal IReadOnlyList<Uri> Servers => ControlPlaneReplicas.Count > 0 ? ControlPlaneReplicas : [ControlPlane];

    internal IReadOnlyList<Uri> Pushes => PushReplicas.Count > 0 ? PushReplicas : [Push];

    /// <summary>Where instance logs are kept.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>
    /// Idle pre-warmed .NET hosts kept for workloads that opt in (pod template annotation
    /// <c>serving.trellis.dev/pool: "dotnet"</c>); 0 turns the pool off. Each idle host holds a
    /// started runtime with ASP.NET Core loaded (about 70 MB resident). <c>trellis agent/up --pool-size</c>.
    /// </summary>
    public int PoolSize { get; init; } = 2;

    /// <summary>The pool host, built next to the trellis CLI.</summary>
    public string PoolHostPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "trellis-poolhost.dll");

    /// <summary>How often the agent re-reports its instances when nothing changed, so the registry knows it is alive.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a removed instance stays up, out of endpoint sets, before its SIGTERM (see
    /// <see cref="Trellis.Runtime.SupervisorOptions.DrainDelay"/>). On one host a registry change
    /// reaches every proxy in tens of milliseconds; a second leaves room for a loaded machine.
    /// </summary>
    public TimeSpan DrainDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How instances are metered (CPU-seconds, peak memory): <c>auto</c> uses cgroup v1 where the
    /// agent may create cgroups and /proc otherwise; <c>cgroup-v1</c> or <c>proc</c> force one.
    /// </summary>
    public string Meter { get; init; } = "auto";

    /// <summary>
    /// The control plane's join token (<c>trellis agent --token</c>), required: with it the agent joins the CA, signs
    /// every API request with its node key (the API accepts agents only so) and keeps a certificate for every service
    /// account it runs.
    /// </summary>
    public string? JoinToken { get; init; }

    /// <summary>
    /// Transparent capture (<c>trellis agent --capture</c>): the port of the node proxy's capture listener, to which
    /// nftables rules in the agent's network namespace redirect the workloads' outbound TCP (Istio's 15001); null: off,
    /// workloads reach the mesh through <c>HTTP_PROXY</c> only. Needs root (CAP_NET_ADMIN) and nft. See docs/capture.md.
    /// </summary>
    public int? CapturePort { get; init; }

    /// <summary>
    /// How an https control plane's certificate is checked (<c>--ca-file</c>, <c>--ca-cert-hash</c>; <c>trellis up</c>
    /// gives its CA's roots). Once joined, the agent trusts the CA bundle it keeps fetching, so a root rotation moves it
    /// along. Null: the system's roots (and nothing to check for http).
    /// </summary>
    public Trellis.Api.Access.ControlPlaneTrust? Trust { get; init; }
}

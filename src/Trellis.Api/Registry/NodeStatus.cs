namespace Trellis.Api.Registry;

/// <summary>
/// What an agent reports about its host: every workload instance it runs. Sent whole on every change
/// and as a heartbeat, so the control plane's registry is soft state that a restart rebuilds.
/// </summary>
/// <param name="AgentUrl">Base URL of the agent's own API (logs), reachable from the control plane.</param>
public sealed record NodeStatus(string Node, string? AgentUrl, IReadOnlyList<WorkloadInstance> Instances)
{
    /// <summary>The address other nodes reach this one at (its instances' endpoints carry it).</summary>
    public string? Address { get; init; }

    /// <summary>Node labels, for Deployments' <c>nodeSelector</c>.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>What the scheduler may place on the node; null: no limit.</summary>
    public NodeCapacity? Capacity { get; init; }
}

/// <summary>A node's capacity in Kubernetes' units: CPU in millicores, memory in bytes.</summary>
public sealed record NodeCapacity(long CpuMillis, long MemoryBytes);

/// <summary>
/// One running (or failing) instance of a workload: a "pod" in kubectl terms.
/// <see cref="Ports"/> holds the app port under <c>app</c> and the proxy listeners under <c>inbound</c> and <c>outbound</c>.
/// </summary>
public sealed record WorkloadInstance(
    string Id,
    string Node,
    string Workload,
    string Namespace,
    IReadOnlyDictionary<string, string> Labels,
    string Host,
    IReadOnlyDictionary<string, int> Ports,
    string Phase,
    bool Ready,
    int Restarts,
    DateTimeOffset? StartedAt,
    int? Pid,
    string? Message)
{
    /// <summary>When <see cref="Ready"/> last changed (a Pod's Ready condition lastTransitionTime).</summary>
    public DateTimeOffset? ReadyAt { get; init; }

    public const string AppPort = "app";
    public const string InboundPort = "inbound";
    public const string OutboundPort = "outbound";

    /// <summary>
    /// The key in <see cref="Ports"/> of the instance's outbound TCP listener for one Service port (<c>tcp:ns/name:port</c>):
    /// the agent reserves one per TCP port of the Services of the instance's namespace and announces it to the process as
    /// <c>NAME_SERVICE_HOST</c>/<c>NAME_SERVICE_PORT</c> (docs/tcp.md); the compiler puts the listener there.
    /// </summary>
    public static string TcpPortKey(string ns, string service, int port) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"tcp:{ns}/{service}:{port}");

    /// <summary>
    /// The key in <see cref="Ports"/> of the instance's outbound TCP listener for one TCP or TLS port of a ServiceEntry
    /// (<c>se:ns/name:port</c>, the entry's name and port number): reserved and announced as for Services
    /// (<c>NAME_SERVICE_PORT</c>, docs/egress.md#tcp-and-tls-ports).
    /// </summary>
    public static string EntryPortKey(string ns, string entry, int port) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"se:{ns}/{entry}:{port}");

    /// <summary>The Service port a <see cref="TcpPortKey"/> names; false for any other key.</summary>
    public static bool TryParseTcpPortKey(string key, out string ns, out string service, out int port) =>
        TryParsePortKey("tcp:", key, out ns, out service, out port);

    /// <summary>The ServiceEntry port an <see cref="EntryPortKey"/> names; false for any other key.</summary>
    public static bool TryParseEntryPortKey(string key, out string ns, out string entry, out int port) =>
        TryParsePortKey("se:", key, out ns, out entry, out port);

    private static bool TryParsePortKey(string prefix, string key, out string ns, out string name, out int port)
    {
        ns = name = "";
        port = 0;
        if (!key.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var colon = key.LastIndexOf(':');
        if (slash < prefix.Length + 1 || colon <= slash + 1
            || !int.TryParse(key.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port))
        {
            return false;
        }

        ns = key[prefix.Length..slash];
        name = key[(slash + 1)..colon];
        return true;
    }
}

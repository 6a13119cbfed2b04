using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Registry;
using Trellis.Api.Workloads;

namespace Trellis.Agent;

/// <summary>
/// How a local process reaches a TCP service without Kubernetes or traffic capture (docs/tcp.md): when an instance
/// starts, the agent reserves a local port per TCP port of the Services of its namespace, reports them with the
/// instance (<see cref="WorkloadInstance.TcpPortKey"/>; the compiler puts an outbound TCP listener of the node proxy
/// there) and announces them as Kubernetes' service environment variables (<c>REDIS_SERVICE_HOST</c>,
/// <c>REDIS_SERVICE_PORT</c>, <c>REDIS_PORT_6379_TCP_PORT</c>, ...). As in Kubernetes, the variables are fixed when the
/// process starts: a Service created later is reachable by the instances started after it. HTTP ports are not listed:
/// they are reached by name through <c>HTTP_PROXY</c>. The TCP and TLS ports of the namespace's ServiceEntries are
/// announced the same way under the entry's name (<see cref="WorkloadInstance.EntryPortKey"/>; a Service of the same
/// name keeps its variables), so a workload reaches an external database or HTTPS API through the mesh
/// (docs/egress.md#tcp-and-tls-ports).
/// </summary>
public sealed class TcpServicePorts
{
    private readonly Lock _gate = new();
    // Reserved ports by the instance's outbound port (unique per live instance, and what the env hook is given).
    private readonly Dictionary<int, Dictionary<string, int>> _reserved = [];
    private IReadOnlyList<Resource> _services = [];
    private IReadOnlyList<Resource> _entries = [];
    private readonly TaskCompletionSource _servicesLoaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _entriesLoaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the Services and ServiceEntries have been listed (instances started before would miss their variables).</summary>
    public Task Loaded => Task.WhenAll(_servicesLoaded.Task, _entriesLoaded.Task);

    public void OnServices(IReadOnlyList<Resource> services)
    {
        lock (_gate)
        {
            _services = services;
        }

        _servicesLoaded.TrySetResult();
    }

    public void OnServiceEntries(IReadOnlyList<Resource> entries)
    {
        lock (_gate)
        {
            _entries = entries;
        }

        _entriesLoaded.TrySetResult();
    }

    /// <summary>The TCP ports of the Services of <paramref name="ns"/>, in Service then port order.</summary>
    public static IEnumerable<(string Service, ServicePort Port)> TcpPorts(IEnumerable<Resource> services, string ns) =>
        services.Where(s => s.Key.Namespace == ns && s.Spec is ServiceSpec)
            .OrderBy(s => s.Metadata.Name, StringComparer.Ordinal)
            .SelectMany(s => ((ServiceSpec)s.Spec!).Ports
                .Where(p => PortProtocols.OfServicePort(p.Name, p.AppProtocol, p.Protocol) is PortProtocol.Tcp or PortProtocol.Tls)
                .Select(p => (s.Metadata.Name, p)));

    /// <summary>The TCP and TLS ports of the ServiceEntries of <paramref name="ns"/>, as Service ports (name, number), in entry then port order.</summary>
    public static IEnumerable<(string Entry, ServicePort Port)> EntryPorts(IEnumerable<Resource> entries, string ns) =>
        entries.Where(e => e.Key.Namespace == ns && e.Spec is ServiceEntrySpec)
            .OrderBy(e => e.Metadata.Name, StringComparer.Ordinal)
            .SelectMany(e => ((ServiceEntrySpec)e.Spec!).Ports
                .Where(p => PortProtocols.Parse(p.Protocol) is PortProtocol.Tcp or PortProtocol.Tls)
                .Select(p => (e.Metadata.Name, new ServicePort { Name = p.Name, Port = p.Number })));

    /// <summary>
    /// The environment of an instance about to start (its ports by name as the runtime allocated them): reserves what it
    /// has not yet (a restart keeps its reservations) and returns the variables.
    /// </summary>
    public Dictionary<string, string> Env(string ns, IReadOnlyDictionary<string, int> ports)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!ports.TryGetValue(WorkloadInstance.OutboundPort, out var outbound))
        {
            return env;
        }

        lock (_gate)
        {
            if (!_reserved.TryGetValue(outbound, out var mine))
            {
                _reserved[outbound] = mine = new Dictionary<string, int>(StringComparer.Ordinal);
            }

            var services = TcpPorts(_services, ns).Select(p => (Key: WorkloadInstance.TcpPortKey(ns, p.Service, p.Port.Port), p.Service, p.Port));
            var named = _services.Where(s => s.Key.Namespace == ns && s.Spec is ServiceSpec).Select(s => EnvName(s.Metadata.Name)).ToHashSet(StringComparer.Ordinal);
            var entries = EntryPorts(_entries, ns).Where(p => !named.Contains(EnvName(p.Entry)))
                .Select(p => (Key: WorkloadInstance.EntryPortKey(ns, p.Entry, p.Port.Port), Service: p.Entry, p.Port));
            foreach (var group in services.Concat(entries).GroupBy(p => p.Service))
            {
                var prefix = EnvName(group.Key);
                var first = true;
                foreach (var (key, _, port) in group)
                {
                    if (!mine.TryGetValue(key, out var local))
                    {
                        mine[key] = local = FreePort();
                    }

                    var text = local.ToString(CultureInfo.InvariantCulture);
                    var docker = string.Create(CultureInfo.InvariantCulture, $"{prefix}_PORT_{port.Port}_TCP");
                    if (first)
                    {
                        env[$"{prefix}_SERVICE_HOST"] = "127.0.0.1";
                        env[$"{prefix}_SERVICE_PORT"] = text;
                        env[$"{prefix}_PORT"] = $"tcp://127.0.0.1:{text}";
                        first = false;
                    }

                    if (port.Name is { Length: > 0 } name)
                    {
                        env[$"{prefix}_SERVICE_PORT_{EnvName(name)}"] = text;
                    }

                    env[docker] = $"tcp://127.0.0.1:{text}";
                    env[docker + "_PROTO"] = "tcp";
                    env[docker + "_PORT"] = text;
                    env[docker + "_ADDR"] = "127.0.0.1";
                }
            }
        }

        return env;
    }

    /// <summary>The instance's ports with its reserved TCP ports added (what the registry is told).</summary>
    public Dictionary<string, int> WithReserved(IReadOnlyDictionary<string, int> ports)
    {
        var all = new Dictionary<string, int>(ports, StringComparer.Ordinal);
        lock (_gate)
        {
            if (ports.TryGetValue(WorkloadInstance.OutboundPort, out var outbound) && _reserved.TryGetValue(outbound, out var mine))
            {
                foreach (var (key, port) in mine)
                {
                    all[key] = port;
                }
            }
        }

        return all;
    }

    /// <summary>Drops the reservations of instances that are gone (by the outbound ports of the live ones).</summary>
    public void Retain(IEnumerable<int> liveOutboundPorts)
    {
        var live = liveOutboundPorts.ToHashSet();
        lock (_gate)
        {
            foreach (var gone in _reserved.Keys.Where(k => !live.Contains(k)).ToList())
            {
                _reserved.Remove(gone);
            }
        }
    }

    /// <summary>Kubernetes' variable prefix: the name upper-cased, <c>-</c> and <c>.</c> as <c>_</c>.</summary>
    public static string EnvName(string name) => name.ToUpperInvariant().Replace('-', '_').Replace('.', '_');

    /// <summary>A port the kernel has free now (bound to port 0 and released, as the runtime allocates instance ports).</summary>
    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}

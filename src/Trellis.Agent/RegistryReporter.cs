using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.Runtime;

namespace Trellis.Agent;

/// <summary>
/// Sends the node's instances to the control plane's registry on every change and as a heartbeat.
/// An instance is reported ready only once its process is ready and its inbound listener on the node
/// proxy serves (<see cref="InboundServing"/>), as a Knative pod is Ready only with its queue-proxy
/// container: proxies route to an endpoint the moment it is reported, and a process that is ready
/// before the node proxy has applied the snapshot with its listener (socket-activated, pooled, or a
/// Native AOT start, all ready within milliseconds) made the activator forward a held request to a
/// port nobody listened on yet (502/503 in the serving benchmark).
/// </summary>
public sealed partial class RegistryReporter(HttpClient http, AgentOptions options, Func<string?> agentUrl, ILogger log) : IDisposable
{
    private readonly SemaphoreSlim _changed = new(0);
    private volatile IReadOnlyList<InstanceStatus> _instances = [];
    private TimeSpan _interval = options.Heartbeat;
    private volatile bool _waitingForListener;

    /// <summary>The instances' reserved outbound TCP ports, reported with their other ports; null: none.</summary>
    public TcpServicePorts? TcpPorts { get; init; }

    /// <summary>Whether the node proxy serves a listener by name (<c>{instance}/inbound</c>); null: no gate.</summary>
    public Func<string, bool>? InboundServing { get; init; }

    /// <summary>The node proxy applied a snapshot: report again if an instance was held back waiting for its listener.</summary>
    public void OnProxyApplied()
    {
        if (_waitingForListener)
        {
            _changed.Release();
        }
    }

    public void Update(IReadOnlyList<InstanceStatus> instances)
    {
        TcpPorts?.Retain(instances.Select(i => i.Ports.GetValueOrDefault(WorkloadInstance.OutboundPort)));
        _instances = instances;
        _changed.Release();
    }

    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(_interval, stop);
                while (_changed.CurrentCount > 0)
                {
                    await _changed.WaitAsync(stop); // coalesce a burst of changes into one report
                }

                var instances = _instances.Select(ToInstance).ToList();
                var heldBack = instances.Zip(_instances).Where(p => p.Second.Ready && !p.First.Ready).Select(p => p.First.Id).ToList();
                _waitingForListener = heldBack.Count > 0;
                var status = new NodeStatus(options.Node, agentUrl(), instances)
                {
                    Address = options.Address,
                    Labels = options.Labels,
                    Capacity = options.Capacity,
                };
                using var response = await http.PutAsJsonAsync($"/registry/v1/nodes/{Uri.EscapeDataString(options.Node)}", status, WireJson.Options, stop);
                response.EnsureSuccessStatusCode();
                if (heldBack.Any(id => InboundServing!(id + "/inbound")))
                {
                    _changed.Release(); // the listener came between the check and the flag, unseen by OnProxyApplied
                }

                // The control plane says how often to report to stay registered (a third of its node TTL).
                if (response.Headers.TryGetValues("x-trellis-heartbeat-seconds", out var advised)
                    && int.TryParse(advised.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
                {
                    _interval = TimeSpan.FromSeconds(Math.Min(seconds, options.Heartbeat.TotalSeconds));
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                LogReportFailed(log, e.Message);
                _changed.Release(); // try again at the next turn
                await Task.Delay(TimeSpan.FromMilliseconds(500), stop).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    public void Dispose() => _changed.Dispose();

    private WorkloadInstance ToInstance(InstanceStatus s)
    {
        var ports = TcpPorts?.WithReserved(s.Ports) ?? new Dictionary<string, int>(s.Ports);
        ports[WorkloadInstance.AppPort] = s.Port;
        var listening = !s.Ready || InboundServing is null || InboundServing(s.Id + "/inbound");
        return new WorkloadInstance(s.Id, options.Node, s.Workload, s.Namespace, s.Labels, options.Address, ports,
            listening ? s.Phase.ToString() : nameof(InstancePhase.Running), s.Ready && listening, s.Restarts, s.StartedAt, s.Pid,
            listening ? s.Message : "waiting for its inbound proxy listener")
        {
            ReadyAt = s.ReadyAt,
        };
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "Reporting to the registry failed: {Reason}")]
    private static partial void LogReportFailed(ILogger log, string reason);
}

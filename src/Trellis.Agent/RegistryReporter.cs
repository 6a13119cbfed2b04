using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.Runtime;

namespace Trellis.Agent;

/// <summary>Sends the node's instances to the control plane's registry on every change and as a heartbeat.</summary>
public sealed partial class RegistryReporter(HttpClient http, AgentOptions options, Func<string?> agentUrl, ILogger log) : IDisposable
{
    private readonly SemaphoreSlim _changed = new(0);
    private volatile IReadOnlyList<InstanceStatus> _instances = [];
    private TimeSpan _interval = options.Heartbeat;

    /// <summary>The instances' reserved outbound TCP ports, reported with their other ports; null: none.</summary>
    public TcpServicePorts? TcpPorts { get; init; }

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

                var status = new NodeStatus(options.Node, agentUrl(), _instances.Select(ToInstance).ToList())
                {
                    Address = options.Address,
                    Labels = options.Labels,
                    Capacity = options.Capacity,
                };
                using var response = await http.PutAsJsonAsync($"/registry/v1/nodes/{Uri.EscapeDataString(options.Node)}", status, WireJson.Options, stop);
                response.EnsureSuccessStatusCode();
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
        return new WorkloadInstance(s.Id, options.Node, s.Workload, s.Namespace, s.Labels, options.Address, ports,
            s.Phase.ToString(), s.Ready, s.Restarts, s.StartedAt, s.Pid, s.Message)
        {
            ReadyAt = s.ReadyAt,
        };
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "Reporting to the registry failed: {Reason}")]
    private static partial void LogReportFailed(ILogger log, string reason);
}

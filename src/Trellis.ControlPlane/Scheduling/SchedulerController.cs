using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Workloads;
using Trellis.ControlPlane.Leadership;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Scheduling;

/// <summary>
/// Runs the <see cref="Scheduler"/> on the leader whenever Deployments or nodes change (and every few
/// seconds), and records each Deployment's placement in its status: <c>status.placement</c> (replicas
/// per node) and a <c>PodScheduled</c> condition saying why replicas found no node. Each agent runs
/// the replicas placed on its node, and only those.
/// </summary>
public sealed partial class SchedulerController : IAsyncDisposable
{
    private readonly IResourceStore _store;
    private readonly ServiceRegistry _registry;
    private readonly ILeadership _leadership;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _dirty = new(0);
    private readonly Task _watch;
    private readonly Task _loop;
    private int _disposed;

    public SchedulerController(IResourceStore store, ServiceRegistry registry, ILeadership leadership, TimeProvider time, ILogger<SchedulerController> log)
    {
        _store = store;
        _registry = registry;
        _leadership = leadership;
        _log = log;
        _registry.Changed += MarkDirty;
        _watch = FollowStoreAsync(store.Snapshot.Revision);
        _loop = RunAsync(time);
        MarkDirty();
    }

    /// <summary>One pass: schedule everything and write the placements that changed. Public for tests.</summary>
    public async Task ScheduleOnceAsync(CancellationToken cancellationToken = default)
    {
        var snapshot = _store.Snapshot;
        var deployments = snapshot.List("apps", "Deployment").ToList();
        var nodes = _registry.NodeStatuses.Select(ToNode).ToList();
        var requests = deployments.Select(d => ToRequest(d.Resource)).ToList();
        var placements = Scheduler.Schedule(nodes, requests);
        foreach (var stored in deployments)
        {
            var deployment = stored.Resource;
            var placement = placements[Key(deployment)];
            var status = deployment.Status as JsonObject;
            if (Recorded(status) is { } recorded && placement.SameNodes(recorded) && Reason(status) == placement.Reason)
            {
                continue;
            }

            var next = WithPlacement(status, placement);
            // Guarded by the version it was computed from: a concurrent edit wins, and the next pass schedules it.
            var result = await _store.WriteAsync([new PutOperation(deployment with { Status = next }) { ExpectedResourceVersion = stored.ResourceVersion }], cancellationToken);
            if (!result.Succeeded)
            {
                LogWriteFailed(_log, deployment.Key.ToString(), result.Message ?? result.Error.ToString());
            }
            else if (placement.Reason is { } reason)
            {
                LogUnschedulable(_log, deployment.Key.ToString(), placement.Unscheduled, reason);
            }
        }
    }

    /// <summary>
    /// <paramref name="deployment"/>'s status with the placement this controller's next pass would
    /// record for it, every other Deployment of <paramref name="snapshot"/> as stored. The serving
    /// controller writes a scale change placed already, so that agents start it at once instead of
    /// after this controller's own write (an fsync and a watch hop, ~5 ms of a cold start from
    /// zero); the pass then finds it placed and writes nothing. One rule: the same scheduler, inputs
    /// and status shape as the pass.
    /// </summary>
    public static JsonObject Place(StoreSnapshot snapshot, IReadOnlyList<NodeStatus> nodes, Resource deployment)
    {
        var requests = snapshot.List("apps", "Deployment").Where(d => d.Resource.Key != deployment.Key)
            .Select(d => ToRequest(d.Resource)).Append(ToRequest(deployment)).ToList();
        var placement = Scheduler.Schedule(nodes.Select(ToNode).ToList(), requests)[Key(deployment)];
        return WithPlacement(deployment.Status as JsonObject, placement);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _registry.Changed -= MarkDirty;
        await _stop.CancelAsync();
        await Task.WhenAll(_watch, _loop);
        _stop.Dispose();
    }

    private static JsonObject WithPlacement(JsonObject? status, Placement placement)
    {
        var next = status?.DeepClone().AsObject() ?? [];
        next[Placements.Field] = new JsonObject(placement.Nodes.OrderBy(n => n.Key, StringComparer.Ordinal).Select(n => KeyValuePair.Create(n.Key, (JsonNode?)n.Value)));
        next["conditions"] = new JsonArray(placement.Reason is null
            ? new JsonObject { ["type"] = "PodScheduled", ["status"] = "True" }
            : new JsonObject { ["type"] = "PodScheduled", ["status"] = "False", ["reason"] = "Unschedulable", ["message"] = placement.Reason });
        return next;
    }

    private static string Key(Resource deployment) => $"{deployment.Key.Namespace}/{deployment.Metadata.Name}";

    private static IReadOnlyDictionary<string, int>? Recorded(JsonObject? status) => Placements.Of(status);

    private static string? Reason(JsonObject? status) =>
        (status?["conditions"] as JsonArray)?.FirstOrDefault(c => (string?)c?["type"] == "PodScheduled")?["message"]?.GetValue<string>();

    private static SchedulableNode ToNode(NodeStatus n) =>
        new(n.Node, n.Labels ?? new Dictionary<string, string>(), n.Capacity?.CpuMillis, n.Capacity?.MemoryBytes);

    private static SchedulingRequest ToRequest(Resource deployment)
    {
        var spec = (DeploymentSpec)deployment.Spec!;
        long cpu = 0, memory = 0;
        foreach (var container in spec.Template.Spec.Containers)
        {
            var requests = container.Resources?.Requests;
            cpu += requests?.GetValueOrDefault("cpu") is { } c ? Quantity.Millicores(c) ?? 0 : 0;
            memory += requests?.GetValueOrDefault("memory") is { } m ? Quantity.Bytes(m) ?? 0 : 0;
        }

        return new SchedulingRequest(Key(deployment), spec.Replicas ?? 1, spec.Template.Spec.NodeSelector, cpu, memory,
            Recorded(deployment.Status as JsonObject) ?? new Dictionary<string, int>());
    }

    private void MarkDirty() => _dirty.Release();

    private async Task FollowStoreAsync(long fromRevision)
    {
        try
        {
            await foreach (var e in _store.WatchAsync(fromRevision, _stop.Token))
            {
                if (e.Object.Resource.Kind == "Deployment")
                {
                    MarkDirty();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunAsync(TimeProvider time)
    {
        var token = _stop.Token;
        try
        {
            while (true)
            {
                // A change schedules at once (a scale from zero waits on this); otherwise every 2 s, which also
                // covers a leadership that just arrived.
                await _dirty.WaitAsync(TimeSpan.FromSeconds(2), token);
                while (_dirty.CurrentCount > 0)
                {
                    await _dirty.WaitAsync(token);
                }

                if (!_leadership.IsLeader)
                {
                    continue;
                }

                try
                {
                    await ScheduleOnceAsync(token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogPassFailed(_log, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 2801, Level = LogLevel.Warning, Message = "Scheduler: {Deployment} has {Count} replica(s) without a node: {Reason}")]
    private static partial void LogUnschedulable(ILogger log, string deployment, int count, string reason);

    [LoggerMessage(EventId = 2803, Level = LogLevel.Debug, Message = "Scheduler: recording the placement of {Deployment} failed ({Reason}); the next pass tries again")]
    private static partial void LogWriteFailed(ILogger log, string deployment, string reason);

    [LoggerMessage(EventId = 2802, Level = LogLevel.Error, Message = "Scheduler: pass failed")]
    private static partial void LogPassFailed(ILogger log, Exception e);
}

using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Serving;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;
using Trellis.Serving.Autoscaling;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Serving;

/// <summary>
/// Knative serving in the control plane. Every tick it (1) reconciles each Knative Service into its
/// Configuration, Route and Revisions with the pure reconcilers and records their status, and
/// (2) runs the autoscaler for each Revision and writes the revision's Deployment at the decided
/// scale, which the agents then run. Objects of a deleted Service are removed with it.
/// </summary>
public sealed partial class ServingController : IAsyncDisposable
{
    private const string Group = ServingLabels.Group;
    private readonly IResourceStore _store;
    private readonly ServiceRegistry _registry;
    private readonly RevisionScalers _scalers;
    private readonly ILogger _log;
    private readonly Leadership.ILeadership? _leadership;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _poke = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;

    public ServingController(IResourceStore store, ServiceRegistry registry, RevisionScalers scalers, TimeProvider time, ILogger<ServingController> log, TimeSpan? tick = null, Leadership.ILeadership? leadership = null)
    {
        _leadership = leadership;
        _store = store;
        _registry = registry;
        _scalers = scalers;
        _log = log;
        _loop = RunAsync(time, tick ?? TimeSpan.FromSeconds(1));
    }

    private int _disposed;

    /// <summary>Idempotent: the host's service container and the host itself may both dispose it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    /// <summary>Run a pass now rather than at the next tick: demand for a revision at zero should not wait a second.</summary>
    public void Poke() => Volatile.Read(ref _poke).TrySetResult();

    /// <summary>One pass; public so tests can drive it without waiting for the timer.</summary>
    public async Task ReconcileOnceAsync(CancellationToken cancellationToken = default)
    {
        var snapshot = _store.Snapshot;
        var instances = _registry.Instances;
        var ops = new List<StoreOperation>();
        var services = snapshot.List(Group, "Service").Select(s => s.Resource).ToList();
        var revisions = snapshot.List(Group, "Revision").Select(s => s.Resource).ToList();
        var configMap = snapshot.Get(new ResourceKey("", "ConfigMap", AutoscalerConfigMap.Namespace, AutoscalerConfigMap.Name))?.Resource.Spec as Trellis.Api.Workloads.ConfigMapData;
        var (autoscaler, configErrors) = AutoscalerConfigMap.Parse(configMap?.Data);
        foreach (var error in configErrors)
        {
            LogBadConfig(_log, error);
        }
        var readiness = revisions.ToDictionary(r => r.Metadata.Name, r => Readiness(r, instances));

        foreach (var service in services)
        {
            ReconcileService(service, snapshot, revisions.Where(r => r.Key.Namespace == service.Key.Namespace).ToList(), readiness, ops);
        }

        foreach (var revision in revisions)
        {
            ScaleRevision(revision, instances, readiness[revision.Metadata.Name], snapshot, ops, autoscaler);
        }

        CollectGarbage(snapshot, services, revisions, ops);
        // Deployments first: a scale from zero is what the agent, and the requests the activator holds,
        // wait for; the status writes of every Service and Revision can follow it. (Stable order otherwise.)
        foreach (var op in ops.OrderBy(o => o.Key.Kind == "Deployment" ? 0 : 1))
        {
            // One write per object: a conflict on one (a user edit in between) must not block the others.
            var result = await _store.WriteAsync([op], cancellationToken);
            if (!result.Succeeded)
            {
                LogWriteFailed(_log, op.Key.ToString(), result.Message ?? result.Error.ToString());
            }
        }
    }

    private void ReconcileService(Resource service, StoreSnapshot snapshot, List<Resource> revisions, Dictionary<string, RevisionReadiness> readiness, List<StoreOperation> ops)
    {
        var ns = service.Key.Namespace;
        var name = service.Metadata.Name;
        var existing = snapshot.Get(new ResourceKey(Group, "Configuration", ns, name))?.Resource;
        var owned = revisions.Where(r => r.Metadata.Labels?.GetValueOrDefault(ServingLabels.Configuration) == name).ToList();
        var result = ServiceReconciler.Reconcile(service, existing, owned, readiness);
        if (result.Configuration is { } configuration)
        {
            ops.Add(Put(configuration with { Status = result.ConfigurationStatus?.ToJson() }, snapshot));
        }

        if (result.Route is { } route)
        {
            ops.Add(Put(route with { Status = result.RouteStatus?.ToJson() }, snapshot));
        }

        if (result.RevisionToCreate is { } revision)
        {
            ops.Add(new PutOperation(revision, PutMode.CreateOnly));
        }

        ops.Add(Put(service with { Status = result.Status.ToJson() }, snapshot));
    }

    private void ScaleRevision(Resource revision, IReadOnlyList<WorkloadInstance> instances, RevisionReadiness readiness, StoreSnapshot snapshot, List<StoreOperation> ops, AutoscalerConfig autoscaler)
    {
        var spec = revision.GetSpec<RevisionSpec>();
        var deployment = RevisionDeployment.NameOf(revision.Metadata.Name);
        var mine = instances.Where(i => i.Namespace == revision.Key.Namespace && i.Workload == deployment).ToList();
        var ready = mine.Count(i => i.Ready);
        var settings = AutoscalerSettings.Parse(revision.Metadata.Annotations, spec.ContainerConcurrency ?? 0, autoscaler);
        JsonObject status;
        if (settings.Settings is not { } valid)
        {
            var errors = string.Join("; ", settings.Errors.Select(e => $"{e.Annotation}: {e.Message}"));
            status = Status(Condition.Failed(ConditionTypes.Ready, "InvalidAnnotation", errors), 0, ready);
            ops.Add(Put(revision with { Status = status }, snapshot));
            return;
        }

        var decision = _scalers.Tick(Key(revision), valid, ready);
        var desired = Math.Max(0, decision.DesiredScale);
        var current = snapshot.Get(new ResourceKey("apps", "Deployment", revision.Key.Namespace, deployment))?.Resource.Spec as Trellis.Api.Workloads.DeploymentSpec;
        if (decision.DesiredScale < 0)
        {
            desired = current?.Replicas ?? valid.InitialScale; // no decision yet: keep the scale, or start at initial-scale
        }

        // No status: the store keeps the one recorded at write time (the scheduler's placement), not this pass's older copy.
        var built = RevisionDeployment.Build(revision, desired);
        if ((current?.Replicas ?? 0) != desired)
        {
            LogScaled(_log, Key(revision), current?.Replicas ?? 0, desired, decision.Reason);
            // A new scale goes out placed, in the same write: agents act on it without waiting for the scheduler's pass.
            var stored = snapshot.Get(built.Key)?.Resource;
            built = built with { Status = Scheduling.SchedulerController.Place(snapshot, _registry.NodeStatuses, built with { Status = stored?.Status }) };
        }

        ops.Add(new PutOperation(built));
        var condition = readiness.IsReady ? Condition.Ok(ConditionTypes.Ready)
            : readiness.IsFailed ? Condition.Failed(ConditionTypes.Ready, readiness.Reason ?? "Failed", readiness.Message ?? "")
            : Condition.Pending(ConditionTypes.Ready, "Deploying");
        status = Status(condition, desired, ready);
        status["activatorInPath"] = decision.ActivatorInPath;
        status["scaleReason"] = decision.Reason;
        ops.Add(Put(revision with { Status = status }, snapshot));
    }

    /// <summary>
    /// A revision is Ready once an instance has been ready (and stays so when scaled to zero, as in
    /// Knative); it has Failed when it never became ready and its instances crash or exit.
    /// </summary>
    private static RevisionReadiness Readiness(Resource revision, IReadOnlyList<WorkloadInstance> instances)
    {
        var wasReady = revision.Status?["conditions"] is JsonArray conditions
            && conditions.Any(c => (string?)c?["type"] == ConditionTypes.Ready && (string?)c?["status"] == Condition.True);
        var deployment = RevisionDeployment.NameOf(revision.Metadata.Name);
        var mine = instances.Where(i => i.Namespace == revision.Key.Namespace && i.Workload == deployment).ToList();
        if (wasReady || mine.Any(i => i.Ready))
        {
            return RevisionReadiness.Ready;
        }

        var crashing = mine.FirstOrDefault(i => i.Phase is "CrashLoopBackOff" || (i.Restarts > 0 && !i.Ready));
        return crashing is not null
            ? RevisionReadiness.Failed("ContainerExited", crashing.Message ?? $"instance {crashing.Id} exited and is restarting ({crashing.Restarts} restarts)")
            : RevisionReadiness.Deploying;
    }

    private void CollectGarbage(StoreSnapshot snapshot, List<Resource> services, List<Resource> revisions, List<StoreOperation> ops)
    {
        var serviceNames = services.Select(s => (s.Key.Namespace, s.Metadata.Name)).ToHashSet();
        bool Orphaned(Resource r) => r.Metadata.Labels?.GetValueOrDefault(ServingLabels.Service) is { } owner && !serviceNames.Contains((r.Key.Namespace, owner));
        foreach (var kind in new[] { "Configuration", "Route" })
        {
            ops.AddRange(snapshot.List(Group, kind).Where(o => Orphaned(o.Resource)).Select(o => new DeleteOperation(o.Resource.Key, MustExist: false)));
        }

        var gone = revisions.Where(Orphaned).ToList();
        ops.AddRange(gone.Select(r => new DeleteOperation(r.Key, MustExist: false)));
        var live = revisions.Except(gone).Select(r => (r.Key.Namespace, r.Metadata.Name)).ToHashSet();
        ops.AddRange(snapshot.List("apps", "Deployment")
            .Where(d => d.Resource.Metadata.Labels?.GetValueOrDefault(ServingLabels.Revision) is { } rev && !live.Contains((d.Resource.Key.Namespace, rev)))
            .Select(d => new DeleteOperation(d.Resource.Key, MustExist: false)));
        _scalers.Forget(_scalers.Known().Except(live.Select(l => $"{l.Namespace}/{l.Name}")));
    }

    public static string Key(Resource revision) => $"{revision.Key.Namespace}/{revision.Metadata.Name}";

    private static JsonObject Status(Condition ready, int desired, int actual) => new()
    {
        ["conditions"] = new JsonArray(new JsonObject { ["type"] = ready.Type, ["status"] = ready.Status, ["reason"] = ready.Reason, ["message"] = ready.Message }),
        ["desiredReplicas"] = desired,
        ["actualReplicas"] = actual,
    };

    /// <summary>Writes only what changed; the store reports the rest as unchanged.</summary>
    private static PutOperation Put(Resource resource, StoreSnapshot snapshot)
    {
        // Keep the stored status when the new object carries none (a child we create from scratch).
        var stored = snapshot.Get(resource.Key)?.Resource;
        return new PutOperation(resource.Status is null && stored is not null ? resource with { Status = stored.Status } : resource);
    }

    private async Task RunAsync(TimeProvider time, TimeSpan tick)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.WhenAny(Volatile.Read(ref _poke).Task, Task.Delay(tick, time, _stop.Token));
                _stop.Token.ThrowIfCancellationRequested();
                Interlocked.Exchange(ref _poke, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                if (_leadership is { IsLeader: false })
                {
                    continue; // another replica reconciles, scales and collects garbage; this one only serves the API
                }

                try
                {
                    await ReconcileOnceAsync(_stop.Token);
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

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Serving: writing {Key} failed: {Reason}")]
    private static partial void LogWriteFailed(ILogger log, string key, string reason);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Information, Message = "Serving: scaling revision {Revision} from {From} to {To} ({Reason})")]
    private static partial void LogScaled(ILogger log, string revision, int from, int to, string? reason);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "Serving: {Error}; the default is used")]
    private static partial void LogBadConfig(ILogger log, string error);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Error, Message = "Serving: reconcile pass failed")]
    private static partial void LogPassFailed(ILogger log, Exception e);
}

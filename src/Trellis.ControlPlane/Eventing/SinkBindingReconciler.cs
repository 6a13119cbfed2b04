using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Trellis.Api;
using Trellis.Api.Eventing;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Store;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// Runs the SinkBindings each eventing pass: resolves each sink, asks <see cref="SinkBindingPlan"/> which Deployments
/// are bound, records that in the Deployments' status (<see cref="SinkBindingEnv"/>; the agents turn it into
/// <c>K_SINK</c> and <c>K_CE_OVERRIDES</c>) and writes each binding's status: <c>sinkUri</c>, <c>SinkProvided</c>
/// (<c>NotFound</c> with the reason) and <c>Ready</c> (<c>SubjectMissing</c> for a named subject that does not exist).
/// A deleted binding, or one whose sink no longer resolves, is taken off its Deployments again (Knative's Undo).
/// </summary>
internal sealed partial class SinkBindingReconciler(IResourceStore store, DestinationResolver resolver, ILogger log)
{
    public async Task ReconcileAsync(StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances, CancellationToken cancellationToken)
    {
        var bindings = snapshot.List(ResourceKinds.KnativeSources, "SinkBinding").Select(s => s.Resource).ToList();
        var deployments = snapshot.List(ResourceKinds.Apps, "Deployment").ToList();
        if (bindings.Count == 0 && !deployments.Any(d => d.Resource.Status?[SinkBindingEnv.StatusField] is not null))
        {
            return;
        }

        var resolved = new List<ResolvedBinding>();
        var sinkErrors = new Dictionary<(string, string), string>();
        foreach (var binding in bindings)
        {
            var spec = binding.GetSpec<SinkBindingSpec>();
            var ns = binding.Key.Namespace;
            var (target, error) = resolver.Resolve(spec.Sink, ns, snapshot, instances);
            if (target is null)
            {
                sinkErrors[(ns, binding.Metadata.Name)] = error!;
            }

            resolved.Add(new ResolvedBinding(ns, binding.Metadata.Name, spec, target is null ? null : DestinationResolver.WorkloadUri(spec.Sink, ns, target).ToString()));
        }

        var services = snapshot.List(ResourceKinds.KnativeServing, "Service").Select(s => s.Resource).ToList();
        var (desired, outcomes) = SinkBindingPlan.Compute(resolved, deployments.Select(d => d.Resource).ToList(), services);
        foreach (var stored in deployments)
        {
            await BindAsync(stored, desired.GetValueOrDefault(stored.Resource.Key), cancellationToken);
        }

        foreach (var (binding, r) in bindings.Zip(resolved))
        {
            var status = new JsonObject();
            var conditions = new List<Condition>();
            if (sinkErrors.TryGetValue((r.Namespace, r.Name), out var sinkError))
            {
                conditions.Add(Condition.Failed("SinkProvided", "NotFound", sinkError));
            }
            else
            {
                conditions.Add(Condition.Ok("SinkProvided"));
                status["sinkUri"] = r.SinkUri;
            }

            var missing = outcomes[(r.Namespace, r.Name)].SubjectMissing;
            var ready = missing is null ? null : Condition.Failed(ConditionTypes.Ready, "SubjectMissing", missing);
            var next = binding with { Status = EventingController.WithConditions(status, conditions, binding.Metadata.Generation, ready) };
            if (binding.Status?.ToJsonString() != next.Status!.ToJsonString())
            {
                await WriteAsync(new PutOperation(next), cancellationToken);
            }
        }
    }

    /// <summary>Records (or removes) the binding in the Deployment's status; guarded by the version it was computed from, so a concurrent write wins and the next pass redoes it.</summary>
    private async Task BindAsync(StoredResource stored, JsonObject? want, CancellationToken cancellationToken)
    {
        var deployment = stored.Resource;
        var have = deployment.Status?[SinkBindingEnv.StatusField];
        if (JsonNode.DeepEquals(have, want))
        {
            return;
        }

        var status = deployment.Status?.DeepClone().AsObject() ?? [];
        if (want is null)
        {
            status.Remove(SinkBindingEnv.StatusField);
        }
        else
        {
            status[SinkBindingEnv.StatusField] = want.DeepClone();
        }

        await WriteAsync(new PutOperation(deployment with { Status = status }) { ExpectedResourceVersion = stored.ResourceVersion }, cancellationToken);
    }

    private async Task WriteAsync(PutOperation op, CancellationToken cancellationToken)
    {
        var result = await store.WriteAsync([op], cancellationToken);
        if (!result.Succeeded)
        {
            LogWriteFailed(log, op.Key.ToString(), result.Message ?? result.Error.ToString());
        }
    }

    [LoggerMessage(EventId = 2404, Level = LogLevel.Debug, Message = "SinkBinding: writing {Key} failed (the next pass retries): {Reason}")]
    private static partial void LogWriteFailed(ILogger log, string key, string reason);
}

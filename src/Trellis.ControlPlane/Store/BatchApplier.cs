using System.Collections.Immutable;
using System.Globalization;
using Trellis.Api;

namespace Trellis.ControlPlane.Store;

/// <summary>
/// The store's decision function: given the current objects and a batch, it returns the new objects
/// and what happened to each operation, or an error that leaves everything unchanged. No I/O, so the
/// durable store and its tests share one set of rules.
/// </summary>
internal static class BatchApplier
{
    public sealed record Outcome(
        StoreErrorKind Error,
        string? Message,
        ImmutableDictionary<ResourceKey, StoredResource> Objects,
        IReadOnlyList<OperationOutcome> Outcomes,
        IReadOnlyList<WatchEvent> Events);

    public static Outcome Apply(
        ImmutableDictionary<ResourceKey, StoredResource> objects,
        IReadOnlyList<StoreOperation> operations,
        long newRevision,
        DateTimeOffset now,
        Func<string> newUid)
    {
        var builder = objects.ToBuilder();
        var outcomes = new List<OperationOutcome>(operations.Count);
        var events = new List<WatchEvent>();
        foreach (var op in operations)
        {
            var existing = builder.GetValueOrDefault(op.Key);
            if (op.ExpectedResourceVersion is { } expected && existing?.ResourceVersion != expected)
            {
                return Fail(objects, StoreErrorKind.Conflict,
                    $"{op.Key}: the object has been modified (resourceVersion {existing?.ResourceVersion.ToString(CultureInfo.InvariantCulture) ?? "none"}, expected {expected})");
            }

            switch (op)
            {
                case PutOperation put:
                    if (put.Mode == PutMode.CreateOnly && existing is not null)
                    {
                        return Fail(objects, StoreErrorKind.AlreadyExists, $"{op.Key} already exists");
                    }

                    if (put.Mode == PutMode.ReplaceOnly && existing is null)
                    {
                        return Fail(objects, StoreErrorKind.NotFound, $"{op.Key} not found");
                    }

                    var (stored, change) = Put(existing, put.Resource, newRevision, now, newUid);
                    builder[op.Key] = stored;
                    outcomes.Add(new OperationOutcome(op.Key, change, stored));
                    if (change != ChangeKind.Unchanged)
                    {
                        events.Add(new WatchEvent(change == ChangeKind.Created ? WatchEventType.Added : WatchEventType.Modified, stored, newRevision));
                    }

                    break;
                case DeleteOperation delete:
                    if (existing is null)
                    {
                        if (delete.MustExist)
                        {
                            return Fail(objects, StoreErrorKind.NotFound, $"{op.Key} not found");
                        }

                        outcomes.Add(new OperationOutcome(op.Key, ChangeKind.NotFound, null));
                        break;
                    }

                    builder.Remove(op.Key);
                    outcomes.Add(new OperationOutcome(op.Key, ChangeKind.Deleted, existing));
                    events.Add(new WatchEvent(WatchEventType.Deleted, existing with { ResourceVersion = newRevision }, newRevision));
                    break;
                default:
                    throw new ArgumentException($"unknown operation {op.GetType().Name}", nameof(operations));
            }
        }

        return new Outcome(StoreErrorKind.None, null, builder.ToImmutable(), outcomes, events);
    }

    private static Outcome Fail(ImmutableDictionary<ResourceKey, StoredResource> objects, StoreErrorKind error, string message) =>
        new(error, message, objects, [], []);

    /// <summary>What a put of <paramref name="incoming"/> would change (created, configured or unchanged), by the rule the write itself uses: a dry run.</summary>
    internal static ChangeKind Preview(StoredResource? existing, Resource incoming) =>
        Put(existing, incoming, existing?.ResourceVersion ?? 0, DateTimeOffset.UnixEpoch, static () => "").Change;

    private static (StoredResource Stored, ChangeKind Change) Put(
        StoredResource? existing, Resource incoming, long revision, DateTimeOffset now, Func<string> newUid)
    {
        var incomingMeta = incoming.Metadata with { Namespace = incoming.Key.Namespace };
        if (existing is null)
        {
            var created = incoming with
            {
                Metadata = incomingMeta with
                {
                    ResourceVersion = revision.ToString(CultureInfo.InvariantCulture),
                    Generation = 1,
                    Uid = newUid(),
                    CreationTimestamp = now,
                },
            };
            return (new StoredResource(created, revision), ChangeKind.Created);
        }

        var old = existing.Resource;
        var specChanged = Content(old with { Metadata = old.Metadata with { Labels = null, Annotations = null } })
            != Content(incoming with { Metadata = incomingMeta with { Labels = null, Annotations = null } });
        var metaChanged = !SameMap(old.Metadata.Labels, incomingMeta.Labels) || !SameMap(old.Metadata.Annotations, incomingMeta.Annotations);
        var statusChanged = incoming.Status is not null && incoming.Status.ToJsonString() != old.Status?.ToJsonString();
        if (!specChanged && !metaChanged && !statusChanged && old.ApiVersion == incoming.ApiVersion)
        {
            return (existing, ChangeKind.Unchanged);
        }

        var updated = incoming with
        {
            // A write of the main resource keeps the status the control plane recorded, as in Kubernetes.
            Status = incoming.Status ?? old.Status,
            Metadata = incomingMeta with
            {
                ResourceVersion = revision.ToString(CultureInfo.InvariantCulture),
                Generation = (old.Metadata.Generation ?? 1) + (specChanged ? 1 : 0),
                Uid = old.Metadata.Uid,
                CreationTimestamp = old.Metadata.CreationTimestamp,
            },
        };
        return (new StoredResource(updated, revision), ChangeKind.Configured);
    }

    /// <summary>The user-owned content of a resource, for change detection: spec and identity, no bookkeeping.</summary>
    private static string Content(Resource r) =>
        ResourceWriter.ToJson(r with
        {
            Status = null,
            Metadata = new ObjectMeta { Name = r.Metadata.Name, Namespace = r.Key.Namespace, Labels = r.Metadata.Labels, Annotations = r.Metadata.Annotations },
        });

    private static bool SameMap(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
    {
        a ??= ImmutableDictionary<string, string>.Empty;
        b ??= ImmutableDictionary<string, string>.Empty;
        return a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }
}

using Trellis.Api;

namespace Trellis.ControlPlane.Store;

public enum PutMode
{
    /// <summary>Create or replace (apply).</summary>
    Upsert,
    /// <summary>Fail with <see cref="StoreErrorKind.AlreadyExists"/> if present (POST).</summary>
    CreateOnly,
    /// <summary>Fail with <see cref="StoreErrorKind.NotFound"/> if absent (PUT).</summary>
    ReplaceOnly,
}

/// <summary>One change inside an atomic batch.</summary>
public abstract record StoreOperation
{
    /// <summary>When set, the write fails with a conflict unless the stored object has this resource version.</summary>
    public long? ExpectedResourceVersion { get; init; }

    public abstract ResourceKey Key { get; }
}

public sealed record PutOperation(Resource Resource, PutMode Mode = PutMode.Upsert) : StoreOperation
{
    public override ResourceKey Key => Resource.Key;
}

public sealed record DeleteOperation(ResourceKey Target, bool MustExist = true) : StoreOperation
{
    public override ResourceKey Key => Target;
}

public enum StoreErrorKind
{
    None,
    NotFound,
    AlreadyExists,
    Conflict,

    /// <summary>
    /// A leader-only write was fenced (<see cref="WriteFence"/>): the leadership it was decided under had ended by the
    /// time it reached the store, so it was not applied.
    /// </summary>
    NotLeader,
}

public enum ChangeKind
{
    Created,
    Configured,
    Unchanged,
    Deleted,
    NotFound,
}

/// <summary>What happened to one operation of a batch.</summary>
public sealed record OperationOutcome(ResourceKey Key, ChangeKind Change, StoredResource? Result);

/// <summary>The outcome of a batch: either every operation applied at <see cref="Revision"/>, or none did.</summary>
public sealed record StoreWriteResult(StoreErrorKind Error, string? Message, long Revision, IReadOnlyList<OperationOutcome> Outcomes)
{
    public bool Succeeded => Error == StoreErrorKind.None;
}

/// <summary>A resource as held by the store: the typed document plus its revision bookkeeping.</summary>
public sealed record StoredResource(Resource Resource, long ResourceVersion);

public enum WatchEventType
{
    Added,
    Modified,
    Deleted,
}

public sealed record WatchEvent(WatchEventType Type, StoredResource Object, long Revision);

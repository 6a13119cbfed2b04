namespace Trellis.ControlPlane.Leadership;

/// <summary>
/// Whether this control-plane replica may do the work only one replica may do: the serving
/// controller (reconcile and autoscale), garbage collection, the scheduler. Every replica serves the
/// API and the push streams whatever this says.
/// </summary>
public interface ILeadership
{
    /// <summary>This replica's name among the replicas.</summary>
    string Identity { get; }

    bool IsLeader { get; }

    /// <summary>The leader as last seen (null while there is none), with the URL where its API answers.</summary>
    LeaderInfo? Leader { get; }

    /// <summary>
    /// What a leader-only write is conditioned on (<see cref="Store.WriteFence"/>), read at the time of the write; null
    /// where no other replica can lead (the embedded store).
    /// </summary>
    Store.WriteFence? Fence { get; }
}

/// <param name="ApiUrl">Where a follower sends what only the leader uses (the autoscaler's load reports).</param>
public sealed record LeaderInfo(string Identity, string? ApiUrl);

/// <summary>The embedded store has one replica: it leads from the start and never stops leading.</summary>
public sealed class SoleLeadership(string identity, string? apiUrl) : ILeadership
{
    public string Identity => identity;

    public bool IsLeader => true;

    public LeaderInfo? Leader { get; } = new(identity, apiUrl);

    public Store.WriteFence? Fence => null;
}

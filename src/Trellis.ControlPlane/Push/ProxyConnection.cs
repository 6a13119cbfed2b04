using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Push;

/// <summary>Live bookkeeping of one connected proxy, shown by <c>/debug/proxies</c> and <c>trellis get proxies</c>.</summary>
public sealed class ProxyConnection(ProxyHello hello, DateTimeOffset connectedAt)
{
    private readonly object _gate = new();

    public ProxyHello Hello { get; } = hello;

    public DateTimeOffset ConnectedAt { get; } = connectedAt;

    public string? SentVersion { get; private set; }

    /// <summary>
    /// The store revision of the newest mesh state this proxy's snapshot was compiled from, whether or not that
    /// state changed the snapshot: once the proxy has answered <see cref="SentVersion"/>, everything written up to
    /// this revision is in effect there (<c>trellis apply --wait</c>, <c>trellis up</c> wait on it).
    /// </summary>
    public long StoreRevision { get; private set; }

    public string? AckedVersion { get; private set; }

    public string? NackedVersion { get; private set; }

    public IReadOnlyList<string> LastErrors { get; private set; } = [];

    public void Sent(string version, long storeRevision)
    {
        lock (_gate)
        {
            SentVersion = version;
            StoreRevision = Math.Max(StoreRevision, storeRevision);
        }
    }

    public void Received(ProxyAck ack)
    {
        lock (_gate)
        {
            if (ack.Accepted)
            {
                AckedVersion = ack.Version;
                LastErrors = [];
            }
            else
            {
                NackedVersion = ack.Version;
                LastErrors = ack.Errors;
            }
        }
    }

    public object Describe() => new
    {
        name = Hello.Name,
        role = Hello.Role.ToString(),
        node = Hello.Node,
        adminUrl = Hello.AdminUrl,
        connectedAt = ConnectedAt,
        sent = SentVersion,
        acked = AckedVersion,
        nacked = NackedVersion,
        errors = LastErrors,
        storeRevision = StoreRevision,
        synced = SentVersion is not null && SentVersion == AckedVersion,
    };
}

using Microsoft.Extensions.Logging;
using Trellis.ControlPlane.Leadership;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;
using Trellis.ControlPlane.Store.Etcd;

namespace Trellis.ControlPlane;

/// <summary>
/// Where a control plane keeps its state, chosen by <see cref="ControlPlaneOptions.Store"/>: the
/// embedded file store (one replica, always the leader, registry in memory), or etcd (resources,
/// registry and leader key shared by every replica). The rest of the control plane sees the same
/// interfaces either way.
/// </summary>
internal sealed class ControlPlaneState : IAsyncDisposable
{
    private readonly EtcdConnection? _etcd;
    private readonly EtcdRegistry? _etcdRegistry;
    private string? _advertised;

    private ControlPlaneState(IResourceStore store, ServiceRegistry registry, INodeReports reports, ILeadership leadership, EtcdConnection? etcd, EtcdRegistry? etcdRegistry)
    {
        Store = store;
        Registry = registry;
        Reports = reports;
        Leadership = leadership;
        _etcd = etcd;
        _etcdRegistry = etcdRegistry;
    }

    public IResourceStore Store { get; }

    public ServiceRegistry Registry { get; }

    public INodeReports Reports { get; }

    public ILeadership Leadership { get; }

    public static async Task<ControlPlaneState> OpenAsync(ControlPlaneOptions options, string identity, string? advertised, ILoggerFactory loggers, TimeProvider time, CancellationToken cancellationToken)
    {
        var registry = new ServiceRegistry(time);
        if (options.Store is null)
        {
            var file = FileResourceStore.Open(options.DataDirectory, time);
            return new ControlPlaneState(file, registry, new LocalNodeReports(registry), new SoleLeadership(identity, advertised), null, null) { _advertised = advertised };
        }

        var (endpoints, error) = EtcdConnection.ParseUrl(options.Store);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(options));
        }

        var etcd = new EtcdConnection(endpoints);
        try
        {
            var store = await EtcdResourceStore.OpenAsync(etcd, time, loggers.CreateLogger<EtcdResourceStore>(), cancellationToken);
            var shared = await EtcdRegistry.StartAsync(etcd, registry, options.NodeTtl, loggers.CreateLogger<EtcdRegistry>(), cancellationToken);
            var election = new EtcdLeaderElection(etcd, identity, advertised, time, loggers.CreateLogger<EtcdLeaderElection>(), options.LeaderTtl);
            return new ControlPlaneState(store, registry, shared, election, etcd, shared) { _advertised = advertised };
        }
        catch
        {
            etcd.Dispose();
            throw;
        }
    }

    /// <summary>Starts what needs the API's URL (known only once Kestrel has bound its port): the election.</summary>
    public void Start(string apiUrl) => (Leadership as EtcdLeaderElection)?.Start(_advertised ?? apiUrl);

    public async ValueTask DisposeAsync()
    {
        if (Leadership is EtcdLeaderElection election)
        {
            await election.DisposeAsync();
        }

        if (_etcdRegistry is not null)
        {
            await _etcdRegistry.DisposeAsync();
        }

        await Store.DisposeAsync();
        _etcd?.Dispose();
    }
}

using Trellis.Api.Registry;

namespace Trellis.ControlPlane.Registry;

/// <summary>Where an agent's report goes: straight into this replica's registry, or into etcd for every replica.</summary>
public interface INodeReports
{
    Task ReportAsync(NodeStatus status, CancellationToken cancellationToken);
}

/// <summary>One control plane: the report is the registry's state; nodes expire by the registry's own clock.</summary>
public sealed class LocalNodeReports(ServiceRegistry registry) : INodeReports
{
    public Task ReportAsync(NodeStatus status, CancellationToken cancellationToken)
    {
        registry.Report(status);
        return Task.CompletedTask;
    }
}

using Trellis.Api.Registry;

namespace Trellis.ControlPlane.Registry;

/// <summary>Where an agent's report goes: straight into this replica's registry, or into etcd for every replica.</summary>
public interface INodeReports
{
    /// <summary>How long a node stays registered without a report; agents are told to report three times as often.</summary>
    TimeSpan NodeTtl { get; }

    Task ReportAsync(NodeStatus status, CancellationToken cancellationToken);
}

/// <summary>One control plane: the report is the registry's state; nodes expire by the registry's own clock.</summary>
public sealed class LocalNodeReports(ServiceRegistry registry) : INodeReports
{
    public TimeSpan NodeTtl => registry.NodeTimeout;

    public Task ReportAsync(NodeStatus status, CancellationToken cancellationToken)
    {
        registry.Report(status);
        return Task.CompletedTask;
    }
}

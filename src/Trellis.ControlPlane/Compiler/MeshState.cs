using Trellis.Api.Registry;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Compiler;

/// <summary>Everything the config compiler reads: one store revision plus the registry's instances.</summary>
public sealed record MeshState(long Generation, StoreSnapshot Store, IReadOnlyList<WorkloadInstance> Instances)
{
    public static readonly MeshState Empty = new(0, StoreSnapshot.Empty, []);

    /// <summary>
    /// The eventing listener of this control plane (<c>http://host:port/</c>), where OpenFaaS's
    /// <c>/async-function/</c> calls are queued; gateways route that path to it. Null when eventing is off.
    /// </summary>
    public Uri? AsyncFunctions { get; init; }
}

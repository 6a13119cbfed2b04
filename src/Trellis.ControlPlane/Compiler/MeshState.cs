using Trellis.Api.Registry;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Compiler;

/// <summary>Everything the config compiler reads: one store revision plus the registry's instances.</summary>
public sealed record MeshState(long Generation, StoreSnapshot Store, IReadOnlyList<WorkloadInstance> Instances)
{
    /// <summary>The trust domain of workload identities (the CA's), for the SPIFFE IDs snapshots name.</summary>
    public string TrustDomain { get; init; } = Trellis.Api.Identity.SpiffeId.DefaultTrustDomain;

    public static readonly MeshState Empty = new(0, StoreSnapshot.Empty, []);

    /// <summary>
    /// The eventing listener of this control plane (<c>http://host:port/</c>), where OpenFaaS's
    /// <c>/async-function/</c> calls are queued; gateways route that path to it. Null when eventing is off.
    /// </summary>
    public Uri? AsyncFunctions { get; init; }

    /// <summary>The JWKS documents fetched for RequestAuthentication <c>jwksUri</c>s, by URI (<see cref="Trellis.ControlPlane.Jwks.JwksResolver"/>).</summary>
    public IReadOnlyDictionary<string, string> Jwks { get; init; } = new Dictionary<string, string>();
}

using System.Collections.Frozen;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>The stateless policies, one instance each, looked up by the cluster's <see cref="LoadBalancerKind"/>.</summary>
internal static class LoadBalancingPolicies
{
    private static readonly FrozenDictionary<LoadBalancerKind, ILoadBalancingPolicy> Policies =
        new Dictionary<LoadBalancerKind, ILoadBalancingPolicy>
        {
            [LoadBalancerKind.RoundRobin] = new RoundRobinPolicy(),
            [LoadBalancerKind.LeastRequest] = new LeastRequestPolicy(),
            [LoadBalancerKind.Random] = new RandomPolicy(),
        }.ToFrozenDictionary();

    public static bool TryGet(LoadBalancerKind kind, out ILoadBalancingPolicy policy) =>
        Policies.TryGetValue(kind, out policy!);
}

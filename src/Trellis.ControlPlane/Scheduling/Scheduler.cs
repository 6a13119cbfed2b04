namespace Trellis.ControlPlane.Scheduling;

/// <summary>A node the scheduler may place replicas on: a registered agent whose lease is alive.</summary>
/// <param name="CpuMillis">Capacity; null when the agent did not say (no limit is applied).</param>
public sealed record SchedulableNode(string Name, IReadOnlyDictionary<string, string> Labels, long? CpuMillis, long? MemoryBytes);

/// <summary>
/// One Deployment as the scheduler sees it: how many replicas, where they may go, what each needs,
/// and where its replicas are now (the placement recorded in its status).
/// </summary>
public sealed record SchedulingRequest(
    string Key,
    int Replicas,
    IReadOnlyDictionary<string, string> NodeSelector,
    long CpuMillis,
    long MemoryBytes,
    IReadOnlyDictionary<string, int> Current);

/// <summary>Replicas per node, and how many found no node (with the reason, as Kubernetes' FailedScheduling says it).</summary>
public sealed record Placement(IReadOnlyDictionary<string, int> Nodes, int Unscheduled, string? Reason)
{
    public bool SameNodes(IReadOnlyDictionary<string, int> other) =>
        Nodes.Count == other.Count && Nodes.All(n => other.TryGetValue(n.Key, out var c) && c == n.Value);
}

/// <summary>
/// Places every Deployment's replicas on nodes, a pure function of the nodes and the requests (the
/// kube-scheduler's filter and score, reduced to what a process runtime needs):
/// <list type="number">
/// <item>Filter: a node qualifies when it carries every <c>nodeSelector</c> label and the replica's
/// requests fit in what its capacity has left (requests of every replica placed on it counted).</item>
/// <item>Keep: replicas stay where they are while their node lives and qualifies, so a reschedule
/// never moves a running replica for nothing; on scale-down the node with the most replicas of the
/// Deployment gives one up first.</item>
/// <item>Score: each new replica goes to the qualifying node with the fewest replicas of its
/// Deployment (spread, Kubernetes' PodTopologySpread over hostnames), then the least allocated
/// share of CPU and memory (LeastAllocated), then the fewest replicas of any Deployment (so
/// workloads without requests spread too), then by name for a stable answer.</item>
/// </list>
/// Replicas on a node that left (its heartbeat lease expired) are placed anew on the others.
/// </summary>
public static class Scheduler
{
    public static IReadOnlyDictionary<string, Placement> Schedule(IReadOnlyList<SchedulableNode> nodes, IReadOnlyList<SchedulingRequest> requests)
    {
        var byName = nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var used = nodes.ToDictionary(n => n.Name, _ => (Cpu: 0L, Memory: 0L), StringComparer.Ordinal);
        var replicas = nodes.ToDictionary(n => n.Name, _ => 0, StringComparer.Ordinal);
        var ordered = requests.OrderBy(r => r.Key, StringComparer.Ordinal).ToList();
        var kept = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);

        // Keep first, for every Deployment, so capacity counts what already runs before anything new is placed.
        foreach (var request in ordered)
        {
            // Replicas on live nodes that still qualify; over the wanted count, the fullest node gives one up first.
            var keep = request.Current
                .Where(c => c.Value > 0 && byName.TryGetValue(c.Key, out var live) && Selects(request.NodeSelector, live.Labels))
                .ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal);
            while (keep.Values.Sum() > Math.Max(0, request.Replicas))
            {
                var fullest = keep.OrderByDescending(k => k.Value).ThenBy(k => k.Key, StringComparer.Ordinal).First().Key;
                keep[fullest]--;
            }

            var placed = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (node, count) in keep.OrderBy(k => k.Key, StringComparer.Ordinal))
            {
                var fits = 0;
                while (fits < count && Fits(byName[node], used[node], request))
                {
                    used[node] = (used[node].Cpu + request.CpuMillis, used[node].Memory + request.MemoryBytes);
                    replicas[node]++;
                    fits++;
                }

                if (fits > 0)
                {
                    placed[node] = fits;
                }
            }

            kept[request.Key] = placed;
        }

        var result = new Dictionary<string, Placement>(StringComparer.Ordinal);
        foreach (var request in ordered)
        {
            var placed = kept[request.Key];
            var missing = Math.Max(0, request.Replicas) - placed.Values.Sum();
            string? reason = null;
            for (; missing > 0; missing--)
            {
                var candidates = nodes.Where(n => Selects(request.NodeSelector, n.Labels)).ToList();
                var fitting = candidates.Where(n => Fits(n, used[n.Name], request)).ToList();
                if (fitting.Count == 0)
                {
                    reason = Unschedulable(nodes.Count, candidates.Count, request);
                    break;
                }

                var best = fitting
                    .OrderBy(n => placed.GetValueOrDefault(n.Name))
                    .ThenBy(n => Share(n, used[n.Name]))
                    .ThenBy(n => replicas[n.Name])
                    .ThenBy(n => n.Name, StringComparer.Ordinal)
                    .First();
                placed[best.Name] = placed.GetValueOrDefault(best.Name) + 1;
                used[best.Name] = (used[best.Name].Cpu + request.CpuMillis, used[best.Name].Memory + request.MemoryBytes);
                replicas[best.Name]++;
            }

            result[request.Key] = new Placement(placed, missing, reason);
        }

        return result;
    }

    private static bool Selects(IReadOnlyDictionary<string, string> selector, IReadOnlyDictionary<string, string> labels) =>
        selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    private static bool Fits(SchedulableNode node, (long Cpu, long Memory) used, SchedulingRequest request) =>
        (node.CpuMillis is not { } cpu || used.Cpu + request.CpuMillis <= cpu)
        && (node.MemoryBytes is not { } memory || used.Memory + request.MemoryBytes <= memory);

    private static double Share(SchedulableNode node, (long Cpu, long Memory) used) =>
        (node.CpuMillis is > 0 ? (double)used.Cpu / node.CpuMillis.Value : 0) + (node.MemoryBytes is > 0 ? (double)used.Memory / node.MemoryBytes.Value : 0);

    /// <summary>kube-scheduler's message shape: "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu."</summary>
    private static string Unschedulable(int total, int matching, SchedulingRequest request)
    {
        if (total == 0)
        {
            return "0/0 nodes are available: no agent is registered";
        }

        var parts = new List<string>();
        if (total - matching > 0)
        {
            parts.Add($"{total - matching} node(s) didn't match Pod's node affinity/selector");
        }

        if (matching > 0)
        {
            parts.Add($"{matching} node(s) had insufficient resources for requests cpu={request.CpuMillis}m memory={request.MemoryBytes}");
        }

        return $"0/{total} nodes are available: {string.Join(", ", parts)}";
    }
}

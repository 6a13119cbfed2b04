using System.Collections.Concurrent;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// The callers a server-side proxy has met, by their <c>x-envoy-peer-metadata</c> value: each distinct value is decoded
/// once and numbered (<see cref="IstioMetrics.Peers"/>), so a request from a known caller finds its <c>source_*</c>
/// labels with one lookup on the header's characters and allocates nothing. Bounded: past <see cref="Capacity"/>
/// distinct values (a client inventing them) a new one counts as an unknown source instead of growing the metrics.
/// </summary>
internal sealed class PeerDirectory(Interned<PeerLabels> peers)
{
    public const int Capacity = 4096;

    private readonly ConcurrentDictionary<string, int> _byHeader = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(int Peer, string Principal), int> _withPrincipal = new();

    /// <summary>
    /// The peer <paramref name="id"/> with the principal its mTLS certificate proved (Istio's source_principal): the
    /// header names the workload, the certificate who it is. Bounded like the header lookup.
    /// </summary>
    public int WithPrincipal(int id, string principal)
    {
        if (_withPrincipal.TryGetValue((id, principal), out var known))
        {
            return known;
        }

        if (_withPrincipal.Count >= Capacity)
        {
            return id;
        }

        known = peers.Id(peers[id] with { Principal = principal });
        _withPrincipal.TryAdd((id, principal), known);
        return known;
    }

    /// <summary>The peer id of a request's header value; 0 (unknown) for none or a malformed one.</summary>
    public int Resolve(ReadOnlySpan<char> header)
    {
        if (header.IsEmpty)
        {
            return 0;
        }

        var lookup = _byHeader.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(header, out var id))
        {
            return id;
        }

        if (_byHeader.Count >= Capacity)
        {
            return 0;
        }

        var workload = PeerMetadata.Decode(header);
        id = workload is null ? 0 : peers.Id(PeerLabels.From(workload));
        _byHeader.TryAdd(header.ToString(), id);
        return id;
    }
}

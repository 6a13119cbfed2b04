using System.Collections.Concurrent;
using Trellis.Proxy.Telemetry.Live;

namespace Trellis.Proxy.Telemetry.AccessLogs;

/// <summary>
/// The last access-log lines of each workload this proxy serves, as its writers wrote them, for
/// <c>trellis logs --proxy WORKLOAD</c> (what <c>kubectl logs POD -c istio-proxy</c> shows of an Envoy sidecar: a node
/// proxy writes the lines of every workload to one stream, this keeps each workload's apart). Lines are added by the
/// writer task after formatting, never on the request path.
/// </summary>
internal sealed class AccessLogTails
{
    /// <summary>Lines kept per workload.</summary>
    public const int Capacity = 1000;

    private readonly ConcurrentDictionary<(string Workload, string Namespace), RecordRing<string>> _tails = new();

    /// <summary>The tail of a workload, made on first use (at snapshot time, for a listener that logs).</summary>
    public RecordRing<string> For(string workload, string ns) =>
        _tails.GetOrAdd((workload, ns), static _ => new RecordRing<string>(Capacity));

    /// <summary>The tail of <paramref name="workload"/> (in <paramref name="ns"/>, or in any namespace when null); null when it never logged.</summary>
    public RecordRing<string>? Find(string workload, string? ns)
    {
        foreach (var ((name, space), tail) in _tails)
        {
            if (name == workload && (ns is null || space == ns))
            {
                return tail;
            }
        }

        return null;
    }
}

using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Telemetry.Tracing;

/// <summary>
/// The span exporters of one proxy, one per (endpoint, protocol, workload) whatever the number of listeners that share
/// it; created at snapshot time, never on a request, and kept for the proxy's life (few, and a snapshot swap must not
/// lose queued spans).
/// </summary>
internal sealed class SpanExporters : IDisposable
{
    private readonly Dictionary<(string, OtlpProtocol, string), SpanExporter> _exporters = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    public SpanExporter For(string endpoint, OtlpProtocol protocol, string service)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_exporters.TryGetValue((endpoint, protocol, service), out var exporter))
            {
                exporter = new SpanExporter(endpoint, protocol, service);
                _exporters[(endpoint, protocol, service)] = exporter;
            }

            return exporter;
        }
    }

    /// <summary>Sends every queued span now; false when one exporter did not finish in time.</summary>
    public bool Flush()
    {
        SpanExporter[] exporters;
        lock (_lock)
        {
            exporters = [.. _exporters.Values];
        }

        return exporters.All(e => e.Flush());
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var exporter in _exporters.Values)
            {
                exporter.Dispose();
            }

            _exporters.Clear();
        }
    }
}

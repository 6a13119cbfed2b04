using System.Text;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry.AccessLogs;

/// <summary>
/// The access-log files of one proxy, one <see cref="AccessLogWriter"/> per path whatever the number of listeners that
/// log there; a writer lives as long as the proxy (paths are few, and a snapshot swap must not lose queued lines).
/// </summary>
internal sealed class AccessLogSinks : IAsyncDisposable
{
    private readonly Dictionary<string, AccessLogWriter> _writers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>The writer for <paramref name="path"/>, started on first use (snapshot time, never on a request).</summary>
    public AccessLogWriter For(string path)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_writers.TryGetValue(path, out var writer))
            {
                writer = new AccessLogWriter(path);
                _writers[path] = writer;
            }

            return writer;
        }
    }

    public IReadOnlyList<AccessLogWriter> Writers
    {
        get
        {
            lock (_lock)
            {
                return [.. _writers.Values];
            }
        }
    }

    /// <summary>Lines written and dropped per file, for <c>/stats/prometheus</c>.</summary>
    public void Write(PrometheusWriter prometheus)
    {
        var writers = Writers;
        if (writers.Count == 0)
        {
            return;
        }

        prometheus.Family("trellis_access_log_lines_total", "counter", "Access-log lines written, by file.");
        foreach (var writer in writers)
        {
            prometheus.Sample("trellis_access_log_lines_total", Labels(writer.Path), writer.Written);
        }

        prometheus.Family("trellis_access_log_lines_dropped_total", "counter", "Access-log lines dropped because the writer was behind or the file could not be opened.");
        foreach (var writer in writers)
        {
            prometheus.Sample("trellis_access_log_lines_dropped_total", Labels(writer.Path), writer.Dropped);
        }
    }

    public async ValueTask DisposeAsync()
    {
        AccessLogWriter[] writers;
        lock (_lock)
        {
            _disposed = true;
            writers = [.. _writers.Values];
        }

        foreach (var writer in writers)
        {
            await writer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string Labels(string path)
    {
        var labels = new StringBuilder();
        PrometheusWriter.Label(labels, "path", path);
        return labels.ToString();
    }
}

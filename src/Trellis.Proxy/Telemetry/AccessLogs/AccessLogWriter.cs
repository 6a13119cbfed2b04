using System.Text;
using System.Threading.Channels;

namespace Trellis.Proxy.Telemetry.AccessLogs;

/// <summary>
/// One access-log file (or the proxy's stdout/stderr), written off the request path: a request hands its entry to a
/// bounded channel and goes on; one writer task formats and writes the lines in batches. A full channel (a disk that
/// cannot keep up) drops the line and counts it, as Envoy's buffered file log does: a request never waits for its log.
/// </summary>
internal sealed class AccessLogWriter : IAsyncDisposable
{
    /// <summary>Lines that may wait for the writer; past this, lines are dropped.</summary>
    public const int Capacity = 8192;

    private readonly Channel<(AccessLogFormat Format, AccessLogEntry Entry, Live.RecordRing<string>? Tail)> _lines;
    private readonly Task _pump;
    private long _written;
    private long _dropped;

    public AccessLogWriter(string path, int capacity = Capacity)
    {
        Path = path;
        // Wait mode makes TryWrite answer false when full (DropWrite would claim success and drop silently).
        _lines = Channel.CreateBounded<(AccessLogFormat, AccessLogEntry, Live.RecordRing<string>?)>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _pump = Task.Run(PumpAsync);
    }

    public string Path { get; }

    public long Written => Interlocked.Read(ref _written);

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The reason the file could not be opened; null while it is fine.</summary>
    public string? Error { get; private set; }

    /// <summary>Queues one line; false (and counted) when the writer is behind by <see cref="Capacity"/> lines or stopped.</summary>
    /// <param name="tail">Where the line also goes once written (its workload's <see cref="AccessLogTails"/> entry); null for nowhere.</param>
    public bool TryWrite(AccessLogFormat format, AccessLogEntry entry, Live.RecordRing<string>? tail = null)
    {
        if (_lines.Writer.TryWrite((format, entry, tail)))
        {
            return true;
        }

        Interlocked.Increment(ref _dropped);
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
    }

    private async Task PumpAsync()
    {
        var reader = _lines.Reader;
        Stream? stream = null;
        try
        {
            stream = Open(Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            Error = ex.Message;
        }

        await using var writer = stream is null ? null : new StreamWriter(stream, new UTF8Encoding(false), 16 * 1024);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Write all that is waiting, then flush once: one system call per batch, not per line.
            while (reader.TryRead(out var item))
            {
                if (writer is null)
                {
                    Interlocked.Increment(ref _dropped);
                    continue;
                }

                var line = item.Format.Format(item.Entry);
                await writer.WriteAsync(line).ConfigureAwait(false);
                Interlocked.Increment(ref _written);
                item.Tail?.Append(line.TrimEnd('\n'));
            }

            if (writer is not null)
            {
                try
                {
                    await writer.FlushAsync().ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    Error = ex.Message;
                }
            }
        }
    }

    private static Stream Open(string path)
    {
        switch (path)
        {
            case "/dev/stdout":
                return Console.OpenStandardOutput();
            case "/dev/stderr":
                return Console.OpenStandardError();
        }

        if (System.IO.Path.GetDirectoryName(path) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }

        return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }
}

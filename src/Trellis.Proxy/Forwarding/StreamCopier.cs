using System.Buffers;

namespace Trellis.Proxy.Forwarding;

internal enum StreamCopyResult
{
    Success,
    InputError,
    OutputError,
    Canceled,
}

/// <summary>
/// Copies one body direction with a pooled buffer. Failures come back as values that say which
/// side failed, because the forwarder answers differently for each (502 vs. client gone).
/// </summary>
internal static class StreamCopier
{
    /// <summary>
    /// The buffer for a body of <paramref name="length"/> bytes (null: unknown): no larger than the
    /// body, so a 1 KiB answer does not rent (and dirty the cache with) 64 KiB, and one read takes
    /// it all. Bodies of unknown length get the full size.
    /// </summary>
    public static int BufferSizeFor(long? length, int maxBufferSize) =>
        length is { } known && known < maxBufferSize ? (int)Math.Max(known, 1) : maxBufferSize;

    /// <param name="batchAfterPause">
    /// After a short read, once data is there again, let the rest of the burst arrive before
    /// reading it (one hop to the thread pool). For a client's request body under inline scheduling:
    /// Kestrel receives into 4 KiB blocks and, without this, would run this loop once per block on
    /// the socket thread (recv 4 KiB, send 4 KiB, repeat), cutting large uploads to a third. With
    /// it, the socket thread keeps receiving while the loop waits its turn, and reads come back full.
    /// </param>
    public static async ValueTask<(StreamCopyResult Result, Exception? Error)> CopyAsync(
        Stream input, Stream output, int bufferSize, CancellationToken cancellationToken, bool batchAfterPause = false)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        var lastReadWasPartial = false;
        try
        {
            while (true)
            {
                int read;
                try
                {
                    if (lastReadWasPartial)
                    {
                        // The source had no more data ready, so the next read will probably wait
                        // (idle SSE stream, WebSocket). Wait with a zero-byte read and give the buffer
                        // back meanwhile, so idle long-lived streams hold no memory (as YARP does).
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = [];
                        _ = await input.ReadAsync(Memory<byte>.Empty, cancellationToken);
                        if (batchAfterPause)
                        {
                            await Task.Yield();
                        }

                        buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
                    }

                    // Read at most bufferSize (the pool may hand out more): a body that fills it has
                    // been read whole, and the loop ends on the next read without a flush in between.
                    read = await input.ReadAsync(buffer.AsMemory(0, bufferSize), cancellationToken);
                }
                catch (Exception ex)
                {
                    return (cancellationToken.IsCancellationRequested ? StreamCopyResult.Canceled : StreamCopyResult.InputError, ex);
                }

                if (read == 0)
                {
                    return (StreamCopyResult.Success, null);
                }

                lastReadWasPartial = read < bufferSize;
                try
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    // A short read means the source paused: push what we have now rather than let an
                    // event stream sit in a write buffer. Full reads are a bulk transfer; the next
                    // write follows at once, and the output flushes as its own buffer fills.
                    if (lastReadWasPartial)
                    {
                        await output.FlushAsync(cancellationToken);
                    }
                }
                catch (Exception ex)
                {
                    return (cancellationToken.IsCancellationRequested ? StreamCopyResult.Canceled : StreamCopyResult.OutputError, ex);
                }
            }
        }
        finally
        {
            if (buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}

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
    public static async ValueTask<(StreamCopyResult Result, Exception? Error)> CopyAsync(
        Stream input, Stream output, int bufferSize, CancellationToken cancellationToken)
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
                        buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
                    }

                    read = await input.ReadAsync(buffer.AsMemory(), cancellationToken);
                }
                catch (Exception ex)
                {
                    return (cancellationToken.IsCancellationRequested ? StreamCopyResult.Canceled : StreamCopyResult.InputError, ex);
                }

                if (read == 0)
                {
                    return (StreamCopyResult.Success, null);
                }

                lastReadWasPartial = read < buffer.Length;
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

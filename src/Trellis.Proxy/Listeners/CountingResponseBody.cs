using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// Counts the response body bytes the Kestrel path writes, for <c>istio_response_bytes</c>: Kestrel keeps no such count,
/// and a streamed body (chunked, or HTTP/2 without content-length) has no declared length to read afterwards. Wraps the
/// response body feature, so both ways the forwarders write (the stream and the pipe writer) go through it.
/// </summary>
internal sealed class CountingResponseBody : IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private long _written;

    private CountingResponseBody(IHttpResponseBodyFeature inner)
    {
        _inner = inner;
        Stream = new CountingStream(inner.Stream, this);
        Writer = new CountingWriter(inner.Writer, this);
    }

    /// <summary>Body bytes written so far.</summary>
    public long Written => Volatile.Read(ref _written);

    public Stream Stream { get; }

    public PipeWriter Writer { get; }

    /// <summary>Puts the counter in front of <paramref name="context"/>'s response body; null when it has none.</summary>
    public static CountingResponseBody? Install(HttpContext context)
    {
        if (context.Features.Get<IHttpResponseBodyFeature>() is not { } inner)
        {
            return null;
        }

        var counting = new CountingResponseBody(inner);
        context.Features.Set<IHttpResponseBodyFeature>(counting);
        return counting;
    }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        Add(count ?? Math.Max(0, new FileInfo(path).Length - offset));
        return _inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    public Task CompleteAsync() => _inner.CompleteAsync();

    private void Add(long bytes) => Interlocked.Add(ref _written, bytes);

    private sealed class CountingWriter(PipeWriter inner, CountingResponseBody counter) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            counter.Add(bytes);
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            counter.Add(source.Length);
            return inner.WriteAsync(source, cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }

    private sealed class CountingStream(Stream inner, CountingResponseBody counter) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => inner.CanWrite;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            counter.Add(count);
            inner.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            counter.Add(buffer.Length);
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            counter.Add(count);
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            counter.Add(buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }
    }
}

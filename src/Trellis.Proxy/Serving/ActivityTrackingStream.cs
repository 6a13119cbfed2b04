namespace Trellis.Proxy.Serving;

/// <summary>
/// The client-side response body seen through a <see cref="RequestDeadline"/>: every write restarts
/// the idle period. Used only on listeners with an idle timeout; everything else passes through.
/// </summary>
internal sealed class ActivityTrackingStream : Stream
{
    private readonly Stream _inner;
    private readonly RequestDeadline _deadline;

    public ActivityTrackingStream(Stream inner, RequestDeadline deadline)
    {
        _inner = inner;
        _deadline = deadline;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // Before and after: a write held up by a slow client is not the upstream going idle.
        _deadline.BytesSent();
        await _inner.WriteAsync(buffer, cancellationToken);
        _deadline.BytesSent();
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _deadline.BytesSent();
        _inner.Write(buffer, offset, count);
        _deadline.BytesSent();
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

using System.Net;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// The client's request body as upstream <see cref="HttpContent"/>, streamed as it arrives: never
/// buffered, any length, chunked when the length is unknown. Records which side failed so the
/// forwarder can tell a client that went away from an upstream that stopped reading.
/// </summary>
internal sealed class StreamingRequestContent : HttpContent
{
    private readonly Stream _source;
    private readonly int _bufferSize;
    private readonly TaskCompletionSource<ForwardError> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    public StreamingRequestContent(Stream source, long? contentLength, int bufferSize)
    {
        _source = source;
        _bufferSize = bufferSize;
        Headers.ContentLength = contentLength;
    }

    /// <summary>Whether the handler began sending the body; if not, <see cref="Completion"/> never completes.</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    /// <summary>Completes with the outcome of the copy once the handler has sent (or failed to send) the body.</summary>
    public Task<ForwardError> Completion => _completion.Task;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        // The client's body can be read only once; a second send (a future retry) must not resend half of it.
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The streamed request body was already sent.");
        }

        var (result, error) = await StreamCopier.CopyAsync(_source, stream, _bufferSize, cancellationToken, batchAfterPause: true);
        var outcome = result switch
        {
            StreamCopyResult.Success => ForwardError.None,
            StreamCopyResult.InputError => ForwardError.RequestBodyClient,
            StreamCopyResult.OutputError => ForwardError.RequestBodyUpstream,
            _ => ForwardError.RequestCanceled,
        };
        _completion.TrySetResult(outcome);
        if (outcome != ForwardError.None)
        {
            // The handler must learn that the body is incomplete, or it would end the upstream request
            // as if the body were whole. This is the only exception on the path and it stays inside
            // SocketsHttpHandler; the forwarder reads the outcome from Completion.
            throw new IOException($"Request body copy failed: {outcome}", error);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}

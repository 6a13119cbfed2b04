namespace Trellis.Proxy.Http1;

/// <summary>
/// Decodes a chunked body (RFC 9112 §7.1) in place, for a consumer that frames the body itself
/// (Kestrel, which re-chunks for HTTP/1.1 clients and sends DATA frames to HTTP/2 ones): chunk
/// sizes and extensions are dropped, data moves to the front of the buffer, and the trailer section
/// is kept aside so that it can be forwarded. The same syntax as <see cref="ChunkedScanner"/>, which
/// relays a body verbatim instead. Incremental: data may arrive split anywhere.
/// </summary>
internal struct ChunkedDecoder
{
    /// <summary>A trailer section larger than this is a syntax error (as a head larger than the upstream buffer is).</summary>
    public const int MaxTrailerSize = 16 * 1024;

    private const long MaxChunkSize = 1L << 40;

    private State _state;
    private long _remaining;
    private int _digits;
    private byte[]? _trailers;
    private int _trailerLength;

    private enum State : byte
    {
        Size,
        SizeWhitespace,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerStart,
        TrailerLine,
        TrailerLf,
        FinalLf,
        Done,
        Invalid,
    }

    public readonly bool IsDone => _state == State.Done;

    public readonly bool IsInvalid => _state == State.Invalid;

    /// <summary>
    /// The trailer section once <see cref="IsDone"/>: its field lines and the empty line that ends
    /// it, ready for <see cref="HeaderFields.Parse"/> from offset 0. Empty when the body had none.
    /// </summary>
    public readonly ReadOnlySpan<byte> Trailers => _trailers.AsSpan(0, _trailerLength);

    /// <summary>
    /// Decodes <paramref name="buffer"/> in place: the body data it holds moves to its front.
    /// Returns how many data bytes are now at <c>buffer[..result]</c>, or -1 on a syntax error;
    /// <paramref name="consumed"/> is how many input bytes belong to the body (fewer than given
    /// only when the body ended inside <paramref name="buffer"/>).
    /// </summary>
    public int Decode(Span<byte> buffer, out int consumed)
    {
        var read = 0;
        var written = 0;
        while (read < buffer.Length && _state != State.Done)
        {
            if (_state == State.Data)
            {
                var take = (int)Math.Min(_remaining, buffer.Length - read);
                if (written != read)
                {
                    buffer.Slice(read, take).CopyTo(buffer[written..]); // overlapping, moving left: memmove semantics
                }

                read += take;
                written += take;
                _remaining -= take;
                if (_remaining == 0)
                {
                    _state = State.DataCr;
                }

                continue;
            }

            var b = buffer[read++];
            _state = Step(b);
            if (_state == State.Invalid)
            {
                consumed = read;
                return -1;
            }

            if (_state is State.TrailerLine or State.TrailerLf || (_state is State.TrailerStart && b == '\n' && _trailerLength > 0)
                || (_state == State.FinalLf && _trailerLength > 0) || (_state == State.Done && _trailerLength > 0))
            {
                if (!AppendTrailer(b))
                {
                    _state = State.Invalid;
                    consumed = read;
                    return -1;
                }
            }
        }

        consumed = read;
        return written;
    }

    private bool AppendTrailer(byte b)
    {
        if (_trailers is null || _trailerLength == _trailers.Length)
        {
            if (_trailerLength == MaxTrailerSize)
            {
                return false;
            }

            // Trailers are rare (gRPC-web, some streaming APIs): a small array, allocated only for them.
            var larger = new byte[_trailers is null ? 256 : Math.Min(_trailers.Length * 2, MaxTrailerSize)];
            _trailers?.CopyTo(larger, 0);
            _trailers = larger;
        }

        _trailers[_trailerLength++] = b;
        return true;
    }

    private State Step(byte b)
    {
        switch (_state)
        {
            case State.Size:
                var digit = HexValue(b);
                if (digit >= 0)
                {
                    _remaining = (_remaining * 16) + digit;
                    _digits++;
                    return _remaining > MaxChunkSize ? State.Invalid : State.Size;
                }

                if (_digits == 0)
                {
                    return State.Invalid;
                }

                return b switch
                {
                    (byte)'\r' => State.SizeLf,
                    (byte)';' => State.Extension,
                    (byte)' ' or (byte)'\t' => State.SizeWhitespace,
                    _ => State.Invalid,
                };
            case State.SizeWhitespace:
                return b switch
                {
                    (byte)'\r' => State.SizeLf,
                    (byte)';' => State.Extension,
                    (byte)' ' or (byte)'\t' => State.SizeWhitespace,
                    _ => State.Invalid,
                };
            case State.Extension:
                return b switch
                {
                    (byte)'\r' => State.SizeLf,
                    (byte)'\n' => State.Invalid,
                    _ => State.Extension,
                };
            case State.SizeLf:
                if (b != '\n')
                {
                    return State.Invalid;
                }

                _digits = 0;
                return _remaining == 0 ? State.TrailerStart : State.Data;
            case State.DataCr:
                return b == '\r' ? State.DataLf : State.Invalid;
            case State.DataLf:
                return b == '\n' ? State.Size : State.Invalid;
            case State.TrailerStart:
                return b switch
                {
                    (byte)'\r' => State.FinalLf,
                    (byte)'\n' => State.Invalid,
                    _ => State.TrailerLine,
                };
            case State.TrailerLine:
                return b switch
                {
                    (byte)'\r' => State.TrailerLf,
                    (byte)'\n' => State.Invalid,
                    _ => State.TrailerLine,
                };
            case State.TrailerLf:
                return b == '\n' ? State.TrailerStart : State.Invalid;
            case State.FinalLf:
                return b == '\n' ? State.Done : State.Invalid;
            default:
                return State.Invalid;
        }
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}

namespace Trellis.Proxy.Http1;

/// <summary>
/// Follows a chunked body (RFC 9112 §7.1) byte by byte without decoding it, so that the fast path
/// can relay it verbatim and still know where it ends: chunk sizes, extensions, data, and the
/// trailer section up to its empty line. Incremental: data may arrive split anywhere.
/// </summary>
internal struct ChunkedScanner
{
    private const long MaxChunkSize = 1L << 40;

    private State _state;
    private long _remaining;
    private int _digits;

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
    /// Consumes bytes of <paramref name="data"/> up to the body's end; returns how many belong to the
    /// body (fewer than given only when it ended inside <paramref name="data"/>), or -1 on a syntax error.
    /// </summary>
    public int Scan(ReadOnlySpan<byte> data)
    {
        var i = 0;
        while (i < data.Length && _state != State.Done)
        {
            if (_state == State.Data)
            {
                var take = (int)Math.Min(_remaining, data.Length - i);
                i += take;
                _remaining -= take;
                if (_remaining == 0)
                {
                    _state = State.DataCr;
                }

                continue;
            }

            _state = Step(data[i++]);
            if (_state == State.Invalid)
            {
                return -1;
            }
        }

        return i;
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
                // BWS is allowed before an extension's ';' (RFC 9112 §7.1.1), not before more digits.
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
            // Trailer lines end in CRLF like every other line: a client that took a bare LF for the
            // end of the body would otherwise disagree with us about where the next response starts.
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

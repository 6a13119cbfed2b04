using System.Runtime.CompilerServices;

namespace Trellis.Proxy.Http1;

/// <summary>
/// The chunked transfer coding's syntax (RFC 9112 §7.1): chunk sizes, extensions, data, and the
/// trailer section up to its empty line. One state machine for <see cref="ChunkedScanner"/>, which
/// relays a body verbatim, and <see cref="ChunkedDecoder"/>, which strips its framing, so that the
/// two always agree on where a body ends and on what is an error. It tells, part by part, which
/// bytes are data and which are not; the caller does the rest. Incremental: input may arrive split
/// anywhere.
/// </summary>
internal struct ChunkedGrammar
{
    private const long MaxChunkSize = 1L << 40;

    private State _state;
    private bool _hasTrailers;
    private int _digits;
    private long _remaining;

    public enum Part : byte
    {
        /// <summary>Chunk data: the body itself.</summary>
        Data,

        /// <summary>Chunk size lines (extensions included) and the CRLF after each chunk's data; also the empty line that ends a body without trailers.</summary>
        Framing,

        /// <summary>A trailer section that has field lines: those lines and the empty line after them.</summary>
        Trailer,

        /// <summary>The byte at fault in a syntax error; nothing after it can be read.</summary>
        Invalid,
    }

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
    /// Reads the next part of <paramref name="input"/>, which must not be empty, nor the body done:
    /// as much chunk data as it holds, or else a run of framing or trailer bytes. <paramref name="length"/>
    /// is how many bytes the part took. A byte at fault is never in a run: it is the next part,
    /// <see cref="Part.Invalid"/>, one byte long, so that a caller has seen every byte before it
    /// (the decoder's trailer limit may be exceeded before the syntax is).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // the data case is the scanner's and the decoder's loop
    public Part Read(ReadOnlySpan<byte> input, out int length)
    {
        if (_state == State.Data)
        {
            length = (int)Math.Min(_remaining, input.Length);
            _remaining -= length;
            if (_remaining == 0)
            {
                _state = State.DataCr;
            }

            return Part.Data;
        }

        return ReadRun(input, out length);
    }

    /// <summary>Makes the body invalid for a reason of the caller's (a trailer section it cannot keep).</summary>
    public void Fail() => _state = State.Invalid;

    private Part ReadRun(ReadOnlySpan<byte> input, out int length)
    {
        // A run is all framing or all trailer: that is decided at TrailerStart, so a run stops there.
        var state = _state; // a local, kept in a register through the run
        var i = 0;
        do
        {
            state = Step(state, input[i]);
            if (state == State.Invalid)
            {
                break; // the byte at fault ends the run; stepped again from Invalid, it is the next part
            }

            i++;
        }
        while (i < input.Length && state is not (State.Data or State.Done or State.TrailerStart));

        _state = state;
        length = Math.Max(i, 1);
        return i == 0 ? Part.Invalid : _hasTrailers ? Part.Trailer : Part.Framing;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // ReadRun's loop
    private State Step(State state, byte b)
    {
        switch (state)
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

                goto case State.SizeWhitespace; // after the digits, what may follow them is what may follow BWS
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
                switch (b)
                {
                    case (byte)'\r':
                        return State.FinalLf;
                    case (byte)'\n':
                        return State.Invalid;
                    default:
                        // From here on every byte, the final empty line's included, is Part.Trailer.
                        _hasTrailers = true;
                        return State.TrailerLine;
                }

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

namespace Trellis.Proxy.Http1;

/// <summary>
/// Follows a chunked body (RFC 9112 §7.1) without decoding it, so that the fast path can relay it
/// verbatim and still know where it ends, trailer section included. The syntax is
/// <see cref="ChunkedGrammar"/>'s, as for <see cref="ChunkedDecoder"/>. Incremental: data may
/// arrive split anywhere.
/// </summary>
internal struct ChunkedScanner
{
    private ChunkedGrammar _grammar;

    public readonly bool IsDone => _grammar.IsDone;

    public readonly bool IsInvalid => _grammar.IsInvalid;

    /// <summary>
    /// Consumes bytes of <paramref name="data"/> up to the body's end; returns how many belong to the
    /// body (fewer than given only when it ended inside <paramref name="data"/>), or -1 on a syntax error.
    /// </summary>
    public int Scan(ReadOnlySpan<byte> data)
    {
        var i = 0;
        while (i < data.Length && !_grammar.IsDone)
        {
            if (_grammar.Read(data[i..], out var length) == ChunkedGrammar.Part.Invalid)
            {
                return -1;
            }

            i += length;
        }

        return i;
    }
}

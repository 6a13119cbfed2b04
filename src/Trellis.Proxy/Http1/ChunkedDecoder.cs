namespace Trellis.Proxy.Http1;

/// <summary>
/// Decodes a chunked body (RFC 9112 §7.1) in place, for a consumer that frames the body itself
/// (Kestrel, which re-chunks for HTTP/1.1 clients and sends DATA frames to HTTP/2 ones): chunk
/// sizes and extensions are dropped, data moves to the front of the buffer, and the trailer section
/// is kept aside so that it can be forwarded. The syntax is <see cref="ChunkedGrammar"/>'s, as for
/// <see cref="ChunkedScanner"/>, which relays a body verbatim instead. Incremental: data may arrive
/// split anywhere.
/// </summary>
internal struct ChunkedDecoder
{
    /// <summary>A trailer section larger than this is a syntax error (as a head larger than the upstream buffer is).</summary>
    public const int MaxTrailerSize = 16 * 1024;

    private ChunkedGrammar _grammar;
    private byte[]? _trailers;
    private int _trailerLength;

    public readonly bool IsDone => _grammar.IsDone;

    public readonly bool IsInvalid => _grammar.IsInvalid;

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
        while (read < buffer.Length && !_grammar.IsDone)
        {
            var part = _grammar.Read(buffer[read..], out var length);
            switch (part)
            {
                case ChunkedGrammar.Part.Data:
                    if (written != read)
                    {
                        buffer.Slice(read, length).CopyTo(buffer[written..]); // overlapping, moving left: memmove semantics
                    }

                    written += length;
                    break;
                case ChunkedGrammar.Part.Trailer:
                    var room = MaxTrailerSize - _trailerLength;
                    if (length > room)
                    {
                        // A trailer section over the limit ends the body as a syntax error does, at the first byte that does not fit.
                        _grammar.Fail();
                        consumed = read + room + 1;
                        return -1;
                    }

                    AppendTrailers(buffer.Slice(read, length));
                    break;
                case ChunkedGrammar.Part.Invalid:
                    consumed = read + 1;
                    return -1;
            }

            read += length;
        }

        consumed = read;
        return written;
    }

    private void AppendTrailers(ReadOnlySpan<byte> bytes)
    {
        var needed = _trailerLength + bytes.Length;
        if (_trailers is null || needed > _trailers.Length)
        {
            // Trailers are rare (gRPC-web, some streaming APIs): a small array, allocated only for them.
            var size = _trailers?.Length ?? 256;
            while (size < needed)
            {
                size = Math.Min(size * 2, MaxTrailerSize);
            }

            var larger = new byte[size];
            Trailers.CopyTo(larger);
            _trailers = larger;
        }

        bytes.CopyTo(_trailers.AsSpan(_trailerLength));
        _trailerLength = needed;
    }
}

namespace Trellis.Proxy.Http1;

/// <summary>
/// An upstream's HTTP/1.x response head parsed in place (RFC 9112 §4, §6): status, framing and
/// whether the connection can carry another request. <see cref="HeadParse.Unsupported"/> means the
/// head is malformed or framed in a way we do not forward (a transfer coding other than chunked):
/// the client gets a 502. Reused per upstream connection.
/// </summary>
internal sealed class ResponseHead
{
    public HeaderFields Fields { get; } = new();

    /// <summary>Bytes of the head, including the empty line.</summary>
    public int Length { get; private set; }

    public int Status { get; private set; }

    /// <summary>Content-Length, or -1 without one.</summary>
    public long ContentLength { get; private set; }

    /// <summary>Transfer-Encoding: chunked (which overrides any Content-Length, RFC 9112 §6.3).</summary>
    public bool Chunked { get; private set; }

    /// <summary>The upstream closes the connection after this response, or it must not be reused.</summary>
    public bool Close { get; private set; }

    public HeadParse Parse(ReadOnlySpan<byte> buffer)
    {
        var lineEnd = buffer.IndexOf((byte)'\n');
        if (lineEnd < 0)
        {
            return HeadParse.Incomplete;
        }

        // HTTP-version SP 3DIGIT SP [reason]; some servers omit the space before an empty reason.
        var line = buffer[..lineEnd];
        if (line.Length < 13 || line[^1] != '\r' || !line.StartsWith("HTTP/1."u8) || (line[7] != '1' && line[7] != '0') || line[8] != ' '
            || !char.IsAsciiDigit((char)line[9]) || !char.IsAsciiDigit((char)line[10]) || !char.IsAsciiDigit((char)line[11])
            || (line[12] != ' ' && line[12] != '\r'))
        {
            return HeadParse.Unsupported;
        }

        Status = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        if (Status < 100)
        {
            return HeadParse.Unsupported; // RFC 9110 §15: 100–599 (and clients accept up to 999); 0xx would pass as interim
        }

        var end = Fields.Parse(buffer, lineEnd + 1);
        if (end <= 0)
        {
            return end == 0 ? HeadParse.Incomplete : HeadParse.Unsupported;
        }

        Length = end;
        Close = line[7] == '0';
        return CheckFields(buffer) ? HeadParse.Complete : HeadParse.Unsupported;
    }

    /// <summary>Whether a body follows: not for HEAD, 1xx, 204 and 304 (RFC 9112 §6.3).</summary>
    public bool HasBody(bool requestWasHead) => !requestWasHead && Status >= 200 && Status != 204 && Status != 304;

    private bool CheckFields(ReadOnlySpan<byte> buffer)
    {
        ContentLength = -1;
        Chunked = false;
        foreach (var field in Fields.AsSpan())
        {
            var value = field.Value(buffer);
            switch (field.Kind)
            {
                case FieldKind.ContentLength:
                    if (!HeadSyntax.TryParseLength(value, out var length) || (ContentLength >= 0 && ContentLength != length))
                    {
                        return false;
                    }

                    ContentLength = length;
                    break;
                case FieldKind.TransferEncoding:
                    if (Chunked || !System.Text.Ascii.EqualsIgnoreCase(value, "chunked"u8))
                    {
                        return false;
                    }

                    Chunked = true;
                    break;
                case FieldKind.Connection:
                    Close |= HeadSyntax.ListContains(value, "close"u8);
                    break;
            }
        }

        if (Chunked && ContentLength >= 0)
        {
            // Both framings: chunked wins, and the connection is not trusted with another request.
            ContentLength = -1;
            Close = true;
        }

        return true;
    }
}

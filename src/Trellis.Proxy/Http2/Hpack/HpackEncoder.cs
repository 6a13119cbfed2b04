using System.Buffers;

namespace Trellis.Proxy.Http2.Hpack;

/// <summary>
/// Encodes response header fields. Stateless: every field is a literal without indexing (§6.2.2),
/// so the peer's dynamic table is never touched and its SETTINGS_HEADER_TABLE_SIZE never matters;
/// no Huffman coding, which would cost more CPU than the bytes it saves are worth to us.
/// </summary>
internal static class HpackEncoder
{
    private const byte IndexedFlag = 0x80;
    private const byte WithoutIndexingFlag = 0x00;
    private const int StatusNameIndex = 8;

    /// <summary>
    /// Writes <c>:status</c>: the indexed static entry where there is one (200, 204, 206, 304, 400,
    /// 404, 500), otherwise a literal without indexing with name index 8. <paramref name="status"/> is 100-999.
    /// </summary>
    public static void WriteStatus(int status, IBufferWriter<byte> output)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(status, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(status, 999);
        var staticIndex = status switch
        {
            200 => 8,
            204 => 9,
            206 => 10,
            304 => 11,
            400 => 12,
            404 => 13,
            500 => 14,
            _ => 0,
        };

        if (staticIndex != 0)
        {
            output.GetSpan(1)[0] = (byte)(IndexedFlag | staticIndex);
            output.Advance(1);
            return;
        }

        var span = output.GetSpan(5);
        span[0] = WithoutIndexingFlag | StatusNameIndex;
        span[1] = 3;
        span[2] = (byte)('0' + (status / 100));
        span[3] = (byte)('0' + (status / 10 % 10));
        span[4] = (byte)('0' + (status % 10));
        output.Advance(5);
    }

    /// <summary>
    /// Writes a field as it came from an HTTP/1.1 head: the name lower-cased (HTTP/2 requires it,
    /// RFC 9113 §8.2.1) and given as a static-table name index when it has one, else as a literal.
    /// Only ASCII letters change case; other bytes are passed on for the caller to have validated.
    /// </summary>
    public static void WriteField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, IBufferWriter<byte> output)
    {
        var nameIndex = HpackStaticTable.IndexOfName(name);
        var literalNameLength = nameIndex == 0 ? name.Length : 0;
        var span = output.GetSpan((3 * HpackInteger.MaxLength) + literalNameLength + value.Length);

        int written;
        if (nameIndex != 0)
        {
            written = HpackInteger.Encode(nameIndex, 4, WithoutIndexingFlag, span);
        }
        else
        {
            span[0] = WithoutIndexingFlag;
            written = 1;
            written += HpackInteger.Encode(name.Length, 7, 0, span[written..]);
            WriteLowerCase(name, span.Slice(written, name.Length));
            written += name.Length;
        }

        written += HpackInteger.Encode(value.Length, 7, 0, span[written..]);
        value.CopyTo(span[written..]);
        written += value.Length;
        output.Advance(written);
    }

    private static void WriteLowerCase(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        for (var i = 0; i < source.Length; i++)
        {
            var octet = source[i];
            destination[i] = (uint)(octet - 'A') <= 'Z' - 'A' ? (byte)(octet | 0x20) : octet;
        }
    }
}

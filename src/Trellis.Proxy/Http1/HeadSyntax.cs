using System.Buffers;

namespace Trellis.Proxy.Http1;

/// <summary>
/// The byte classes of RFC 9110/9112 message heads that the fast path accepts. Deliberately
/// narrower than the RFCs allow (no obs-text, no obs-fold, no bare LF): anything outside is left
/// to Kestrel, whose answers to odd input are the reference.
/// </summary>
internal static class HeadSyntax
{
    /// <summary>tchar (RFC 9110 §5.6.2): field names and methods.</summary>
    public static readonly SearchValues<byte> Token = SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Field values: visible ASCII, space and tab.</summary>
    public static readonly SearchValues<byte> FieldValue = SearchValues.Create(Printable(includeSpace: true, includeTab: true));

    /// <summary>Request targets in origin form: visible ASCII except '#', which never goes on the wire.</summary>
    public static readonly SearchValues<byte> Target = SearchValues.Create(Printable(includeSpace: false, includeTab: false).Where(b => b != (byte)'#').ToArray());

    public static readonly byte[] CrLf = "\r\n"u8.ToArray();

    private static byte[] Printable(bool includeSpace, bool includeTab)
    {
        var bytes = new List<byte>();
        for (var b = 0x21; b <= 0x7E; b++)
        {
            bytes.Add((byte)b);
        }

        if (includeSpace)
        {
            bytes.Add((byte)' ');
        }

        if (includeTab)
        {
            bytes.Add((byte)'\t');
        }

        return [.. bytes];
    }

    /// <summary>Trims optional whitespace (SP / HTAB) on both sides.</summary>
    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> value)
    {
        var start = 0;
        while (start < value.Length && (value[start] == ' ' || value[start] == '\t'))
        {
            start++;
        }

        var end = value.Length;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        {
            end--;
        }

        return value[start..end];
    }

    /// <summary>A non-negative decimal without sign or whitespace, as Content-Length must be; false on overflow.</summary>
    public static bool TryParseLength(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty || digits.Length > 18)
        {
            return false;
        }

        foreach (var d in digits)
        {
            if (d is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (d - '0');
        }

        return true;
    }

    /// <summary>Whether a comma-separated list value holds <paramref name="token"/> (ASCII, case-insensitive).</summary>
    public static bool ListContains(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        while (!list.IsEmpty)
        {
            var comma = list.IndexOf((byte)',');
            var item = TrimOws(comma >= 0 ? list[..comma] : list);
            if (System.Text.Ascii.EqualsIgnoreCase(item, token))
            {
                return true;
            }

            list = comma >= 0 ? list[(comma + 1)..] : [];
        }

        return false;
    }
}

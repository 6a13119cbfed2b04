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

    /// <summary>
    /// Path bytes the Kestrel path sends upstream as they came: RFC 3986 pchar and '/' without
    /// pct-encoded, i.e. what <c>PathString.ToUriComponent</c> leaves unescaped. Any other byte the
    /// Kestrel path would escape, so the fast path leaves such a path to it.
    /// </summary>
    public static readonly SearchValues<byte> PlainPath = SearchValues.Create(
        "!$&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"u8);

    /// <summary>Query bytes <see cref="System.Uri"/> leaves alone on the Kestrel path: pchar, '/', '?', and '%' (checked to start an escape).</summary>
    public static readonly SearchValues<byte> PlainQuery = SearchValues.Create(
        "!$%&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"u8);

    /// <summary>reg-name bytes Kestrel accepts in Host (its HttpCharacters host set, as Http.Sys).</summary>
    public static readonly SearchValues<byte> HostName = SearchValues.Create(
        "!$&'()-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"u8);

    private static readonly SearchValues<byte> Ipv6Literal = SearchValues.Create(":.0123456789ABCDEFabcdef"u8);

    /// <summary>
    /// Whether <see cref="System.Uri"/> leaves a query (with its '?') as it is: only <see cref="PlainQuery"/>
    /// bytes, and every '%' starts a %XX escape of a byte that is not unreserved (Uri would escape a
    /// stray '%' and decode %41 to 'A').
    /// </summary>
    public static bool IsPlainQuery(ReadOnlySpan<byte> query)
    {
        if (query.IndexOfAnyExcept(PlainQuery) >= 0)
        {
            return false;
        }

        for (var percent = query.IndexOf((byte)'%'); percent >= 0; percent = query.IndexOf((byte)'%'))
        {
            if (percent + 2 >= query.Length || !char.IsAsciiHexDigit((char)query[percent + 1]) || !char.IsAsciiHexDigit((char)query[percent + 2]))
            {
                return false;
            }

            var escaped = (char)((HexDigit(query[percent + 1]) * 16) + HexDigit(query[percent + 2]));
            if (char.IsAsciiLetterOrDigit(escaped) || escaped is '-' or '.' or '_' or '~')
            {
                return false;
            }

            query = query[(percent + 3)..];
        }

        return true;
    }

    private static int HexDigit(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    /// <summary>
    /// Kestrel's Host check (HttpUtilities.IsHostHeaderValid) for a non-empty value: a reg-name or
    /// IPv4 address of <see cref="HostName"/> bytes, or an IPv6 literal in brackets, then optionally
    /// ':' and at least one digit. Kestrel answers 400 to anything else.
    /// </summary>
    public static bool IsValidHost(ReadOnlySpan<byte> host)
    {
        int end;
        if (host[0] == '[')
        {
            end = host.IndexOf((byte)']');
            if (end < 4 || host[1..end].IndexOfAnyExcept(Ipv6Literal) >= 0)
            {
                return false; // [::1] is the shortest
            }

            end++;
        }
        else
        {
            end = host.IndexOfAnyExcept(HostName);
            if (end < 0)
            {
                return true;
            }

            if (end == 0)
            {
                return false; // only a port, or no name at all
            }
        }

        if (end == host.Length)
        {
            return true;
        }

        var port = host[(end + 1)..];
        return host[end] == ':' && !port.IsEmpty && port.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;
    }

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

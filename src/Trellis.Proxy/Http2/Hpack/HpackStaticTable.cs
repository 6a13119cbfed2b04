namespace Trellis.Proxy.Http2.Hpack;

/// <summary>
/// The static table of RFC 7541 Appendix A (indexes 1-61). Entries are u8 literals, so they live in
/// the assembly's data section and a lookup allocates nothing; a switch compiles to a jump table.
/// </summary>
internal static class HpackStaticTable
{
    public const int Count = 61;

    /// <summary>The name of entry <paramref name="index"/> (1-61).</summary>
    public static ReadOnlySpan<byte> Name(int index) => index switch
    {
        1 => ":authority"u8,
        2 => ":method"u8,
        3 => ":method"u8,
        4 => ":path"u8,
        5 => ":path"u8,
        6 => ":scheme"u8,
        7 => ":scheme"u8,
        8 => ":status"u8,
        9 => ":status"u8,
        10 => ":status"u8,
        11 => ":status"u8,
        12 => ":status"u8,
        13 => ":status"u8,
        14 => ":status"u8,
        15 => "accept-charset"u8,
        16 => "accept-encoding"u8,
        17 => "accept-language"u8,
        18 => "accept-ranges"u8,
        19 => "accept"u8,
        20 => "access-control-allow-origin"u8,
        21 => "age"u8,
        22 => "allow"u8,
        23 => "authorization"u8,
        24 => "cache-control"u8,
        25 => "content-disposition"u8,
        26 => "content-encoding"u8,
        27 => "content-language"u8,
        28 => "content-length"u8,
        29 => "content-location"u8,
        30 => "content-range"u8,
        31 => "content-type"u8,
        32 => "cookie"u8,
        33 => "date"u8,
        34 => "etag"u8,
        35 => "expect"u8,
        36 => "expires"u8,
        37 => "from"u8,
        38 => "host"u8,
        39 => "if-match"u8,
        40 => "if-modified-since"u8,
        41 => "if-none-match"u8,
        42 => "if-range"u8,
        43 => "if-unmodified-since"u8,
        44 => "last-modified"u8,
        45 => "link"u8,
        46 => "location"u8,
        47 => "max-forwards"u8,
        48 => "proxy-authenticate"u8,
        49 => "proxy-authorization"u8,
        50 => "range"u8,
        51 => "referer"u8,
        52 => "refresh"u8,
        53 => "retry-after"u8,
        54 => "server"u8,
        55 => "set-cookie"u8,
        56 => "strict-transport-security"u8,
        57 => "transfer-encoding"u8,
        58 => "user-agent"u8,
        59 => "vary"u8,
        60 => "via"u8,
        61 => "www-authenticate"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    /// <summary>The value of entry <paramref name="index"/> (1-61); empty for most.</summary>
    public static ReadOnlySpan<byte> Value(int index) => index switch
    {
        2 => "GET"u8,
        3 => "POST"u8,
        4 => "/"u8,
        5 => "/index.html"u8,
        6 => "http"u8,
        7 => "https"u8,
        8 => "200"u8,
        9 => "204"u8,
        10 => "206"u8,
        11 => "304"u8,
        12 => "400"u8,
        13 => "404"u8,
        14 => "500"u8,
        16 => "gzip, deflate"u8,
        _ => (uint)(index - 1) < Count ? default : throw new ArgumentOutOfRangeException(nameof(index)),
    };

    /// <summary>Static indexes by name length: a lookup compares only the few names of the right length.</summary>
    private static readonly int[][] IndexesByLength = BuildIndexesByLength();

    /// <summary>
    /// The first index whose name equals <paramref name="name"/> ignoring ASCII case (every static name
    /// is lower-case), or 0. It runs once per response field: only names of the same length are
    /// compared (one to four of them), as a full scan of the 61 cost about 0.2 µs per field.
    /// </summary>
    public static int IndexOfName(ReadOnlySpan<byte> name)
    {
        if (name.Length >= IndexesByLength.Length)
        {
            return 0;
        }

        foreach (var index in IndexesByLength[name.Length])
        {
            if (System.Text.Ascii.EqualsIgnoreCase(Name(index), name))
            {
                return index;
            }
        }

        return 0;
    }

    private static int[][] BuildIndexesByLength()
    {
        var longest = 0;
        for (var index = 1; index <= Count; index++)
        {
            longest = Math.Max(longest, Name(index).Length);
        }

        var byLength = new List<int>[longest + 1];
        for (var index = 1; index <= Count; index++)
        {
            (byLength[Name(index).Length] ??= []).Add(index); // ascending, so the first match is the lowest index
        }

        return [.. byLength.Select(indexes => indexes?.ToArray() ?? [])];
    }
}

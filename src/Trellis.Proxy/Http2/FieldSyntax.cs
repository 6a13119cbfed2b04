namespace Trellis.Proxy.Http2;

/// <summary>The field rules of RFC 9113 §8.2 that make a request malformed.</summary>
internal static class FieldSyntax
{
    // RFC 9110 tchar without upper-case letters (HTTP/2 names are lower-case).
    private static readonly bool[] NameBytes = Table("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz");

    public static bool IsValidName(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty)
        {
            return false;
        }

        foreach (var b in name)
        {
            if (!NameBytes[b])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>No NUL, CR or LF anywhere, no whitespace at either end.</summary>
    public static bool IsValidValue(ReadOnlySpan<byte> value)
    {
        if (value.IndexOfAny((byte)0, (byte)'\r', (byte)'\n') >= 0)
        {
            return false;
        }

        return value.IsEmpty || !(IsWhitespace(value[0]) || IsWhitespace(value[^1]));
    }

    /// <summary>Connection-specific fields, which HTTP/2 does not carry (RFC 9113 §8.2.2); <c>te</c> is checked apart.</summary>
    public static bool IsConnectionSpecific(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("connection"u8) || name.SequenceEqual("keep-alive"u8) || name.SequenceEqual("proxy-connection"u8)
        || name.SequenceEqual("transfer-encoding"u8) || name.SequenceEqual("upgrade"u8);

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t';

    private static bool[] Table(string allowed)
    {
        var table = new bool[256];
        foreach (var c in allowed)
        {
            table[c] = true;
        }

        return table;
    }
}

namespace Trellis.Proxy.Http2.Hpack;

/// <summary>The prefixed integer representation of RFC 7541 §5.1.</summary>
internal static class HpackInteger
{
    /// <summary>The most bytes an int takes: a full prefix then five 7-bit groups (35 bits).</summary>
    public const int MaxLength = 6;

    // Five continuation bytes carry 35 bits, enough for any int; a sixth is never needed and is
    // refused so that a peer cannot make us loop over a run of zero-valued 0x80 bytes.
    private const int MaxShift = 28;

    /// <summary>
    /// Reads the integer whose first byte is <c>block[position]</c>, whose low
    /// <paramref name="prefixBits"/> bits start the value; moves <paramref name="position"/> past it.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        if (position >= block.Length)
        {
            throw new HpackException("HPACK integer truncated: the block ends before its first byte.");
        }

        var mask = (1 << prefixBits) - 1;
        var prefix = block[position++] & mask;
        if (prefix < mask)
        {
            return prefix;
        }

        long value = prefix;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > MaxShift)
            {
                throw new HpackException("HPACK integer has more continuation bytes than an int needs.");
            }

            if (position >= block.Length)
            {
                throw new HpackException("HPACK integer truncated: the block ends inside its continuation bytes.");
            }

            var next = block[position++];
            value += (long)(next & 0x7F) << shift;
            if (value > int.MaxValue)
            {
                throw new HpackException("HPACK integer overflows an int.");
            }

            if ((next & 0x80) == 0)
            {
                return (int)value;
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="value"/> with a <paramref name="prefixBits"/>-bit prefix, the first
    /// byte's high bits set to <paramref name="flags"/>; returns the bytes written.
    /// </summary>
    public static int Encode(int value, int prefixBits, byte flags, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        var mask = (1 << prefixBits) - 1;
        if (value < mask)
        {
            destination[0] = (byte)(flags | value);
            return 1;
        }

        destination[0] = (byte)(flags | mask);
        var remaining = (uint)(value - mask);
        var written = 1;
        while (remaining >= 0x80)
        {
            destination[written++] = (byte)(remaining | 0x80);
            remaining >>= 7;
        }

        destination[written++] = (byte)remaining;
        return written;
    }
}

using System.Text;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>
/// A Huffman encoder for tests only (the proxy never Huffman-codes), built from the same Appendix B
/// table as the decoder, plus bit-level helpers for writing deliberately invalid codes.
/// </summary>
internal static class TestHuffmanEncoder
{
    public static byte[] Encode(ReadOnlySpan<byte> data)
    {
        var bits = new StringBuilder();
        foreach (var octet in data)
        {
            bits.Append(CodeBits(octet));
        }

        // §5.2: pad to a byte boundary with the most significant bits of EOS (all ones).
        while (bits.Length % 8 != 0)
        {
            bits.Append('1');
        }

        return FromBits(bits.ToString());
    }

    /// <summary>The code of <paramref name="symbol"/> (256 is EOS) as a string of '0' and '1'.</summary>
    public static string CodeBits(int symbol) =>
        Convert.ToString(HpackHuffmanCode.Codes[symbol], 2).PadLeft(HpackHuffmanCode.Lengths[symbol], '0');

    /// <summary>Packs a string of '0' and '1' (a multiple of 8 long) into bytes, most significant bit first.</summary>
    public static byte[] FromBits(string bits)
    {
        if (bits.Length % 8 != 0)
        {
            throw new ArgumentException("Bits must fill whole bytes.", nameof(bits));
        }

        var bytes = new byte[bits.Length / 8];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = Convert.ToByte(bits.Substring(i * 8, 8), 2);
        }

        return bytes;
    }
}

using Trellis.Proxy.Http2.Hpack;
using static Trellis.Proxy.Tests.Http2.Hpack.TestHuffmanEncoder;

namespace Trellis.Proxy.Tests.Http2.Hpack;

public sealed class HpackHuffmanDecoderTests
{
    [Fact]
    public void Decode_EveryByteValueAlone_RoundTrips()
    {
        for (var value = 0; value < 256; value++)
        {
            byte[] data = [(byte)value];

            var decoded = Decode(Encode(data));

            Assert.True(data.AsSpan().SequenceEqual(decoded), $"byte {value}");
        }
    }

    [Fact]
    public void Decode_EveryByteValueInOneStringAndEveryPrefixOfIt_RoundTrips()
    {
        // Every prefix length puts the codes at a different bit alignment and ends in padding of
        // every length 0-7, so each (state, nibble) path of interest is crossed.
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).Concat(Enumerable.Range(0, 256).Select(i => (byte)(255 - i))).ToArray();
        for (var length = 0; length <= all.Length; length++)
        {
            var data = all[..length];

            var decoded = Decode(Encode(data));

            Assert.True(data.AsSpan().SequenceEqual(decoded), $"length {length}");
        }
    }

    [Fact]
    public void Decode_AppendixC4String_IsWwwExampleCom()
    {
        var decoded = Decode(Convert.FromHexString("f1e3c2e5f23a6ba0ab90f4ff"));

        Assert.Equal("www.example.com"u8.ToArray(), decoded);
    }

    [Fact]
    public void MaxDecodedLength_AllFiveBitCodes_FitsExactly()
    {
        // '0', '1', '2', 'a', 'c', 'e', 'i', 'o', 's', 't' have the shortest (5-bit) codes: 8 of them fill 5 bytes.
        var data = "aceiosta"u8.ToArray();
        var encoded = Encode(data);

        Assert.Equal(5, encoded.Length);
        Assert.Equal(8, HpackHuffmanDecoder.MaxDecodedLength(encoded.Length));
        Assert.Equal(data, Decode(encoded));
    }

    public static TheoryData<string, string> InvalidCodes => new()
    {
        // §5.2: "A Huffman-encoded string literal containing the EOS symbol MUST be treated as a decoding error."
        { CodeBits('a') + CodeBits(HpackHuffmanCode.Eos) + "11111", "EOS after a symbol" },
        { CodeBits(HpackHuffmanCode.Eos) + "11", "EOS alone" },
        // §5.2: "A padding strictly longer than 7 bits MUST be treated as a decoding error."
        { "11111111", "a whole byte of padding" },
        { CodeBits('a') + "111" + "11111111", "11 bits of padding" },
        // §5.2: "A padding not corresponding to the most significant bits of the code for the EOS symbol MUST be treated as a decoding error."
        { CodeBits('a') + "110", "padding with a zero bit" },
        { CodeBits('a') + "000", "padding of zeros" },
        { CodeBits('a') + "011", "an unfinished code rather than padding" },
    };

    [Theory]
    [MemberData(nameof(InvalidCodes))]
    public void Decode_InvalidCode_Throws(string bits, string why)
    {
        var encoded = FromBits(bits);

        var exception = Assert.Throws<HpackException>(() => Decode(encoded));
        Assert.False(string.IsNullOrEmpty(exception.Message), why);
    }

    [Theory]
    [InlineData("a", "111")]
    [InlineData("aa", "111111")]
    [InlineData("aaa", "1")]
    [InlineData("0a", "111111")]
    public void Decode_PaddingUpToSevenOnes_Accepted(string text, string padding)
    {
        var bits = string.Concat(text.Select(c => CodeBits(c))) + padding;

        var decoded = Decode(FromBits(bits));

        Assert.Equal(text, System.Text.Encoding.ASCII.GetString(decoded));
    }

    [Fact]
    public void Decode_InvalidCodeInsideBlock_ThrowsFromDecoder()
    {
        // 0x01: literal without indexing, name :authority; then a Huffman value with bad padding.
        var block = new TestHpackWriter().Bytes(0x01).RawString(FromBits(CodeBits('a') + "110"), huffmanFlag: true).ToArray();

        Assert.Throws<HpackException>(() => new HpackDecoder().Decode(block, new RecordingSink()));
    }

    private static byte[] Decode(byte[] encoded)
    {
        var destination = new byte[HpackHuffmanDecoder.MaxDecodedLength(encoded.Length)];
        var written = HpackHuffmanDecoder.Decode(encoded, destination);
        return destination[..written];
    }
}

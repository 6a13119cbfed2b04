using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>How a test block represents one literal field (RFC 7541 §6.2).</summary>
internal enum LiteralKind
{
    IncrementalIndexing,
    WithoutIndexing,
    NeverIndexed,
}

/// <summary>
/// Writes header blocks representation by representation, with every choice the format allows,
/// so tests can produce inputs the proxy's own encoder never would.
/// </summary>
internal sealed class TestHpackWriter
{
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => [.. _bytes];

    public TestHpackWriter Indexed(int index) => Integer(index, 7, 0x80);

    public TestHpackWriter SizeUpdate(int maxSize) => Integer(maxSize, 5, 0x20);

    /// <summary>A literal field whose name is the table entry <paramref name="nameIndex"/>.</summary>
    public TestHpackWriter Literal(LiteralKind kind, int nameIndex, byte[] value, bool huffmanValue = false)
    {
        var (prefixBits, flags) = Prefix(kind);
        Integer(nameIndex, prefixBits, flags);
        return String(value, huffmanValue);
    }

    /// <summary>A literal field with a literal name.</summary>
    public TestHpackWriter Literal(LiteralKind kind, byte[] name, byte[] value, bool huffmanName = false, bool huffmanValue = false)
    {
        var (prefixBits, flags) = Prefix(kind);
        Integer(0, prefixBits, flags);
        String(name, huffmanName);
        return String(value, huffmanValue);
    }

    /// <summary>A string literal (§5.2), Huffman-coded or raw.</summary>
    public TestHpackWriter String(byte[] value, bool huffman)
    {
        var content = huffman ? TestHuffmanEncoder.Encode(value) : value;
        return RawString(content, huffman);
    }

    /// <summary>A string literal whose content is given as is, with the H flag as told (for invalid Huffman).</summary>
    public TestHpackWriter RawString(byte[] content, bool huffmanFlag)
    {
        Integer(content.Length, 7, huffmanFlag ? (byte)0x80 : (byte)0);
        _bytes.AddRange(content);
        return this;
    }

    public TestHpackWriter Bytes(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    private TestHpackWriter Integer(int value, int prefixBits, byte flags)
    {
        Span<byte> buffer = stackalloc byte[HpackInteger.MaxLength];
        var written = HpackInteger.Encode(value, prefixBits, flags, buffer);
        _bytes.AddRange(buffer[..written]);
        return this;
    }

    private static (int PrefixBits, byte Flags) Prefix(LiteralKind kind) => kind switch
    {
        LiteralKind.IncrementalIndexing => (6, 0x40),
        LiteralKind.WithoutIndexing => (4, 0x00),
        _ => (4, 0x10),
    };
}

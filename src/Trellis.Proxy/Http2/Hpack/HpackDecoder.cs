namespace Trellis.Proxy.Http2.Hpack;

/// <summary>
/// Decodes header blocks (RFC 7541 §6) for one connection: the dynamic table is connection state,
/// so there is one decoder per connection, used by one reader at a time (not thread-safe).
/// Allocation-free once warm: strings are reported as spans into the block, the dynamic table or a
/// scratch buffer that grows to the longest Huffman-coded string seen and is then reused.
/// </summary>
internal sealed class HpackDecoder
{
    // Scratch buffers above this size are dropped after the block that needed them, so that one
    // oversized header does not pin its buffer for the life of the connection.
    private const int RetainedScratchSize = 16 * 1024;

    private readonly HpackDynamicTable _table;
    private readonly int _maxTableSize;
    private readonly int _maxHeaderListSize;
    private byte[] _nameScratch = [];
    private byte[] _valueScratch = [];

    /// <param name="maxTableSize">
    /// The SETTINGS_HEADER_TABLE_SIZE we advertise (4096 by default); a dynamic table size update above it is an error.
    /// </param>
    /// <param name="maxHeaderListSize">The RFC 9113 §6.5.2 limit: the sum over fields of name + value + 32.</param>
    public HpackDecoder(int maxTableSize = 4096, int maxHeaderListSize = 64 * 1024)
    {
        // The table keeps twice this many bytes; a megabyte is far beyond any table worth advertising.
        ArgumentOutOfRangeException.ThrowIfNegative(maxTableSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxTableSize, 1 << 20);
        ArgumentOutOfRangeException.ThrowIfNegative(maxHeaderListSize);
        _maxTableSize = maxTableSize;
        _maxHeaderListSize = maxHeaderListSize;
        _table = new HpackDynamicTable(maxTableSize);
    }

    /// <summary>The dynamic table, for tests and diagnostics to read; only the decoder changes it.</summary>
    internal HpackDynamicTable DynamicTable => _table;

    /// <summary>
    /// Decodes one complete header block (HEADERS plus any CONTINUATION fragments, concatenated).
    /// Always decodes the whole block so that the dynamic table stays in step with the peer's; once
    /// the list passes the maximum size it stops calling <paramref name="sink"/> and returns
    /// <see cref="HpackResult.HeaderListTooLarge"/>. Throws <see cref="HpackException"/> if malformed.
    /// </summary>
    public HpackResult Decode(ReadOnlySpan<byte> block, IHpackSink sink)
    {
        var position = 0;
        long listSize = 0;
        var tooLarge = false;
        var fieldSeen = false;
        try
        {
            while (position < block.Length)
            {
                var first = block[position];
                ReadOnlySpan<byte> name;
                ReadOnlySpan<byte> value;
                if ((first & 0x80) != 0)
                {
                    // §6.1 indexed field: 1xxxxxxx.
                    var index = HpackInteger.Decode(block, ref position, 7);
                    name = NameAt(index);
                    value = ValueAt(index);
                }
                else if ((first & 0xC0) == 0x40)
                {
                    // §6.2.1 literal with incremental indexing: 01xxxxxx.
                    var nameIndex = HpackInteger.Decode(block, ref position, 6);
                    name = ReadName(block, ref position, nameIndex);
                    if (nameIndex > HpackStaticTable.Count)
                    {
                        // The entry the name comes from may be evicted (and its bytes reused) by
                        // the very addition that copies it (§4.4), so take it out of the table first.
                        name = CopyToScratch(name, ref _nameScratch);
                    }

                    value = ReadString(block, ref position, ref _valueScratch);
                    _table.Add(name, value);
                }
                else if ((first & 0xE0) == 0x20)
                {
                    // §6.3 dynamic table size update: 001xxxxx, only ahead of the first field (§4.2).
                    if (fieldSeen)
                    {
                        throw new HpackException("Dynamic table size update after a header field; it must start the block.");
                    }

                    var maxSize = HpackInteger.Decode(block, ref position, 5);
                    if (maxSize > _maxTableSize)
                    {
                        throw new HpackException($"Dynamic table size update to {maxSize} exceeds the advertised {_maxTableSize}.");
                    }

                    _table.SetMaxSize(maxSize);
                    continue;
                }
                else
                {
                    // §6.2.2 without indexing (0000xxxx) and §6.2.3 never indexed (0001xxxx) decode alike;
                    // the difference matters only to an intermediary that re-encodes, which we never do.
                    var nameIndex = HpackInteger.Decode(block, ref position, 4);
                    name = ReadName(block, ref position, nameIndex);
                    value = ReadString(block, ref position, ref _valueScratch);
                }

                fieldSeen = true;
                if (!tooLarge)
                {
                    listSize += name.Length + value.Length + HpackDynamicTable.EntryOverhead;
                    tooLarge = listSize > _maxHeaderListSize;
                    if (!tooLarge)
                    {
                        sink.OnField(name, value);
                    }
                }
            }
        }
        finally
        {
            TrimScratch();
        }

        return tooLarge ? HpackResult.HeaderListTooLarge : HpackResult.Ok;
    }

    private static ReadOnlySpan<byte> CopyToScratch(ReadOnlySpan<byte> source, scoped ref byte[] scratch)
    {
        if (scratch.Length < source.Length)
        {
            scratch = new byte[Math.Max(source.Length, 64)];
        }

        source.CopyTo(scratch);
        return scratch.AsSpan(0, source.Length);
    }

    /// <summary>A §5.2 string literal: H flag and 7-bit-prefix length, then the raw or Huffman-coded bytes.</summary>
    private static ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> block, scoped ref int position, scoped ref byte[] scratch)
    {
        if (position >= block.Length)
        {
            throw new HpackException("HPACK string literal truncated: the block ends before its length.");
        }

        var huffman = (block[position] & 0x80) != 0;
        var length = HpackInteger.Decode(block, ref position, 7);
        if (length > block.Length - position)
        {
            throw new HpackException($"HPACK string literal of {length} bytes runs past the end of the block.");
        }

        var raw = block.Slice(position, length);
        position += length;
        if (!huffman)
        {
            return raw;
        }

        var maxLength = HpackHuffmanDecoder.MaxDecodedLength(length);
        if (scratch.Length < maxLength)
        {
            scratch = new byte[Math.Max(maxLength, 64)];
        }

        var decoded = HpackHuffmanDecoder.Decode(raw, scratch);
        return scratch.AsSpan(0, decoded);
    }

    /// <summary>A literal field's name: index 0 means a literal name follows, otherwise it is an indexed name.</summary>
    private ReadOnlySpan<byte> ReadName(ReadOnlySpan<byte> block, scoped ref int position, int nameIndex) =>
        nameIndex == 0 ? ReadString(block, ref position, ref _nameScratch) : NameAt(nameIndex);

    private ReadOnlySpan<byte> NameAt(int index)
    {
        CheckIndex(index);
        return index <= HpackStaticTable.Count ? HpackStaticTable.Name(index) : _table.Name(index - HpackStaticTable.Count);
    }

    private ReadOnlySpan<byte> ValueAt(int index)
    {
        CheckIndex(index);
        return index <= HpackStaticTable.Count ? HpackStaticTable.Value(index) : _table.Value(index - HpackStaticTable.Count);
    }

    /// <summary>Index 0 and indexes past the static and dynamic tables are errors (§2.3.3, §6.1).</summary>
    private void CheckIndex(int index)
    {
        if (index == 0)
        {
            throw new HpackException("HPACK index 0 is not a table entry.");
        }

        if (index > HpackStaticTable.Count + _table.Count)
        {
            throw new HpackException($"HPACK index {index} is past the static table and the {_table.Count} dynamic entries.");
        }
    }

    private void TrimScratch()
    {
        if (_nameScratch.Length > RetainedScratchSize)
        {
            _nameScratch = [];
        }

        if (_valueScratch.Length > RetainedScratchSize)
        {
            _valueScratch = [];
        }
    }
}

namespace Trellis.Proxy.Http2.Hpack;

/// <summary>
/// The decoder's dynamic table (RFC 7541 §2.3.2, §4): a FIFO of fields, newest at index 1, whose
/// size (name + value + 32 per entry) stays within <see cref="MaxSize"/>. Storage is allocated once:
/// field bytes lie back to back in one byte buffer and an entry ring holds their offsets, so adding
/// and evicting never allocate and every name and value is one contiguous span.
/// </summary>
internal sealed class HpackDynamicTable
{
    /// <summary>The per-entry overhead of §4.1.</summary>
    public const int EntryOverhead = 32;

    // Twice the capacity: live bytes never exceed the capacity, so when an entry does not fit at
    // the end, moving the live bytes to the front always leaves room for it. Each byte is moved at
    // most once per capacity's worth of additions.
    private readonly byte[] _data;
    private readonly Entry[] _entries;
    private readonly int _capacity;
    private int _first;
    private int _dataStart;
    private int _dataEnd;

    /// <param name="capacity">The largest <see cref="MaxSize"/> the peer may choose (our SETTINGS_HEADER_TABLE_SIZE).</param>
    public HpackDynamicTable(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _capacity = capacity;
        _data = new byte[capacity * 2];
        _entries = new Entry[Math.Max(1, capacity / EntryOverhead)];
        MaxSize = capacity;
    }

    /// <summary>How many entries the table holds.</summary>
    public int Count { get; private set; }

    /// <summary>The table's size as §4.1 counts it.</summary>
    public int Size { get; private set; }

    /// <summary>The current maximum size, as last set by a dynamic table size update.</summary>
    public int MaxSize { get; private set; }

    /// <summary>The name of entry <paramref name="index"/>, 1 being the newest.</summary>
    public ReadOnlySpan<byte> Name(int index)
    {
        ref readonly var entry = ref EntryAt(index);
        return _data.AsSpan(entry.Offset, entry.NameLength);
    }

    /// <summary>The value of entry <paramref name="index"/>, 1 being the newest.</summary>
    public ReadOnlySpan<byte> Value(int index)
    {
        ref readonly var entry = ref EntryAt(index);
        return _data.AsSpan(entry.Offset + entry.NameLength, entry.ValueLength);
    }

    /// <summary>Applies a dynamic table size update (§6.3), evicting as needed. The caller checks the bound.</summary>
    public void SetMaxSize(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxSize, _capacity);
        MaxSize = maxSize;
        while (Size > MaxSize)
        {
            EvictOldest();
        }
    }

    /// <summary>
    /// Adds a field as the newest entry, evicting the oldest ones to make room (§4.4); a field larger
    /// than <see cref="MaxSize"/> empties the table and is not added. Neither span may point into this
    /// table: eviction can reuse the bytes they refer to.
    /// </summary>
    public void Add(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var entrySize = (long)name.Length + value.Length + EntryOverhead;
        if (entrySize > MaxSize)
        {
            while (Count > 0)
            {
                EvictOldest();
            }

            return;
        }

        while (Size + entrySize > MaxSize)
        {
            EvictOldest();
        }

        var length = name.Length + value.Length;
        if (_dataEnd + length > _data.Length)
        {
            Compact();
        }

        name.CopyTo(_data.AsSpan(_dataEnd));
        value.CopyTo(_data.AsSpan(_dataEnd + name.Length));
        _entries[(_first + Count) % _entries.Length] = new Entry(_dataEnd, name.Length, value.Length);
        _dataEnd += length;
        Count++;
        Size += (int)entrySize;
    }

    private ref readonly Entry EntryAt(int index)
    {
        if ((uint)(index - 1) >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "No such dynamic table entry.");
        }

        return ref _entries[(_first + Count - index) % _entries.Length];
    }

    private void EvictOldest()
    {
        ref readonly var oldest = ref _entries[_first];
        Size -= oldest.NameLength + oldest.ValueLength + EntryOverhead;
        _dataStart = oldest.Offset + oldest.NameLength + oldest.ValueLength;
        _first = (_first + 1) % _entries.Length;
        Count--;
        if (Count == 0)
        {
            _first = 0;
            _dataStart = 0;
            _dataEnd = 0;
        }
    }

    private void Compact()
    {
        var shift = _dataStart;
        _data.AsSpan(_dataStart, _dataEnd - _dataStart).CopyTo(_data);
        for (var i = 0; i < Count; i++)
        {
            _entries[(_first + i) % _entries.Length].Offset -= shift;
        }

        _dataStart = 0;
        _dataEnd -= shift;
    }

    private struct Entry(int offset, int nameLength, int valueLength)
    {
        public int Offset = offset;
        public readonly int NameLength = nameLength;
        public readonly int ValueLength = valueLength;
    }
}

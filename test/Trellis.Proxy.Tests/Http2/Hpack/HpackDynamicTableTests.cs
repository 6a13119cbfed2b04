using System.Text;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

public sealed class HpackDynamicTableTests
{
    [Fact]
    public void Add_ManyEntriesOfMixedSizes_MatchesReferenceThroughEvictionsAndCompactions()
    {
        // 3000 additions through a 256-byte table wrap its storage many times over.
        var random = new Random(7541);
        var table = new HpackDynamicTable(256);
        var reference = new ReferenceDynamicTable(256);
        for (var i = 0; i < 3000; i++)
        {
            if (random.Next(50) == 0)
            {
                var maxSize = random.Next(257);
                table.SetMaxSize(maxSize);
                reference.SetMaxSize(maxSize);
            }

            var name = RandomText(random, random.Next(0, 40));
            var value = RandomText(random, random.Next(0, random.Next(10) == 0 ? 300 : 120));

            table.Add(Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(value));
            reference.Add(name, value);

            Assert.Equal(reference.Entries, RecordingSink.Table(table));
            Assert.Equal(reference.Size, table.Size);
        }
    }

    [Fact]
    public void Add_EntryLargerThanTable_EmptiesTable()
    {
        var table = new HpackDynamicTable(100);
        table.Add("a"u8, "b"u8);

        table.Add("name"u8, new byte[65]); // 4 + 65 + 32 = 101 > 100

        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.Size);
    }

    [Fact]
    public void Add_EntryExactlyTableSize_Fits()
    {
        var table = new HpackDynamicTable(100);
        table.Add("a"u8, "b"u8);

        table.Add("name"u8, new byte[64]); // 4 + 64 + 32 = 100

        Assert.Equal(1, table.Count);
        Assert.Equal(100, table.Size);
    }

    [Fact]
    public void SetMaxSize_Smaller_EvictsOldestFirst()
    {
        var table = new HpackDynamicTable(4096);
        table.Add("one"u8, "1"u8);
        table.Add("two"u8, "2"u8);
        table.Add("three"u8, "3"u8);

        table.SetMaxSize(80); // two = 36, three = 38

        Assert.Equal([("three", "3"), ("two", "2")], RecordingSink.Table(table));
    }

    [Fact]
    public void Decode_NameFromEntryEvictedByTheSameAddition_KeepsTheName()
    {
        // §4.4: a new entry can reference the name of an entry that its own addition evicts.
        var decoder = new HpackDecoder(maxTableSize: 64);
        decoder.Decode(new TestHpackWriter().Literal(LiteralKind.IncrementalIndexing, "old-name"u8.ToArray(), "12345678"u8.ToArray()).ToArray(), new RecordingSink());
        var sink = new RecordingSink();
        var value = new string('v', 20);

        decoder.Decode(new TestHpackWriter().Literal(LiteralKind.IncrementalIndexing, 62, Encoding.ASCII.GetBytes(value)).ToArray(), sink);

        Assert.Equal([("old-name", value)], sink.Fields);
        Assert.Equal([("old-name", value)], RecordingSink.Table(decoder.DynamicTable));
    }

    [Fact]
    public void Decode_NameFromEvictedEntryWhileStorageCompacts_KeepsTheName()
    {
        // A 128-byte table keeps 2 x 128 bytes of storage; 18 entries of 12 bytes fill it to 216, so
        // the next 42-byte entry both evicts the entry its name comes from and moves live bytes.
        var decoder = new HpackDecoder(maxTableSize: 128);
        for (var i = 0; i < 18; i++)
        {
            var name = Encoding.ASCII.GetBytes($"n{(char)('a' + i)}");
            decoder.Decode(new TestHpackWriter().Literal(LiteralKind.IncrementalIndexing, name, "0123456789"u8.ToArray()).ToArray(), new RecordingSink());
        }

        var value = new string('v', 40);
        var sink = new RecordingSink();

        decoder.Decode(new TestHpackWriter().Literal(LiteralKind.IncrementalIndexing, 63, Encoding.ASCII.GetBytes(value)).ToArray(), sink);

        Assert.Equal([("nq", value)], sink.Fields);
        Assert.Equal([("nq", value), ("nr", "0123456789")], RecordingSink.Table(decoder.DynamicTable));
    }

    private static string RandomText(Random random, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = (char)random.Next(256);
        }

        return new string(chars);
    }
}

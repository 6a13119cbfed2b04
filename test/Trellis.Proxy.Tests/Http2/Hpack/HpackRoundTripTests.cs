using System.Text;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>
/// A seeded property test: random field lists, written with random representations (indexed,
/// each literal kind, indexed or literal names, Huffman or raw strings, table size updates), decode
/// back to the same fields, and the decoder's table matches a plain reference table after each block.
/// </summary>
public sealed class HpackRoundTripTests
{
    private static readonly string[] CommonNames =
        [":authority", ":method", ":path", "content-type", "cookie", "user-agent", "x-request-id", "accept", "set-cookie", ""];

    [Theory]
    [InlineData(1, 4096)]
    [InlineData(2, 256)]
    [InlineData(3, 64)]
    [InlineData(4, 0)]
    [InlineData(5, 1000)]
    public void Decode_RandomBlocks_SameFieldsAndTable(int seed, int maxTableSize)
    {
        var random = new Random(seed);
        for (var connection = 0; connection < 20; connection++)
        {
            var decoder = new HpackDecoder(maxTableSize, maxHeaderListSize: int.MaxValue);
            var reference = new ReferenceDynamicTable(maxTableSize);
            for (var blockNumber = 0; blockNumber < 15; blockNumber++)
            {
                var writer = new TestHpackWriter();
                var expected = WriteBlock(random, writer, reference, maxTableSize);
                var sink = new RecordingSink();

                var result = decoder.Decode(writer.ToArray(), sink);

                var context = $"seed {seed}, connection {connection}, block {blockNumber}";
                Assert.True(result == HpackResult.Ok, context);
                Assert.True(expected.SequenceEqual(sink.Fields), context);
                Assert.True(reference.Entries.SequenceEqual(RecordingSink.Table(decoder.DynamicTable)), context);
                Assert.True(reference.Size == decoder.DynamicTable.Size, context);
            }
        }
    }

    private static List<(string Name, string Value)> WriteBlock(Random random, TestHpackWriter writer, ReferenceDynamicTable reference, int maxTableSize)
    {
        if (random.Next(8) == 0)
        {
            var updates = random.Next(1, 3);
            for (var i = 0; i < updates; i++)
            {
                var maxSize = random.Next(maxTableSize + 1);
                writer.SizeUpdate(maxSize);
                reference.SetMaxSize(maxSize);
            }
        }

        var fields = new List<(string, string)>();
        var count = random.Next(0, 12);
        for (var i = 0; i < count; i++)
        {
            fields.Add(WriteField(random, writer, reference));
        }

        return fields;
    }

    private static (string Name, string Value) WriteField(Random random, TestHpackWriter writer, ReferenceDynamicTable reference)
    {
        var tableLength = HpackStaticTable.Count + reference.Entries.Count;
        if (random.Next(4) == 0)
        {
            var index = random.Next(1, tableLength + 1);
            writer.Indexed(index);
            return EntryAt(reference, index);
        }

        var kind = (LiteralKind)random.Next(3);
        var value = RandomString(random);
        var huffmanValue = random.Next(2) == 0;
        string name;
        if (random.Next(2) == 0)
        {
            var nameIndex = random.Next(1, tableLength + 1);
            name = EntryAt(reference, nameIndex).Name;
            writer.Literal(kind, nameIndex, Latin1(value), huffmanValue);
        }
        else
        {
            name = random.Next(2) == 0 ? CommonNames[random.Next(CommonNames.Length)] : RandomString(random);
            writer.Literal(kind, Latin1(name), Latin1(value), random.Next(2) == 0, huffmanValue);
        }

        if (kind == LiteralKind.IncrementalIndexing)
        {
            reference.Add(name, value);
        }

        return (name, value);
    }

    private static (string Name, string Value) EntryAt(ReferenceDynamicTable reference, int index) =>
        index <= HpackStaticTable.Count
            ? (Encoding.Latin1.GetString(HpackStaticTable.Name(index)), Encoding.Latin1.GetString(HpackStaticTable.Value(index)))
            : reference.Entries[index - HpackStaticTable.Count - 1];

    private static string RandomString(Random random)
    {
        // Mostly short printable text, sometimes any byte, sometimes long enough for multi-byte lengths.
        var length = random.Next(10) switch
        {
            0 => random.Next(127, 400),
            1 => 0,
            _ => random.Next(1, 30),
        };
        var anyByte = random.Next(4) == 0;
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = (char)(anyByte ? random.Next(256) : random.Next(0x20, 0x7f));
        }

        return new string(chars);
    }

    private static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);
}

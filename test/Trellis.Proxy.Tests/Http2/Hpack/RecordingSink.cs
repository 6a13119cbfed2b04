using System.Text;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>Keeps every decoded field as Latin-1 strings (one char per byte, so nothing is lost).</summary>
internal sealed class RecordingSink : IHpackSink
{
    public List<(string Name, string Value)> Fields { get; } = [];

    public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
        Fields.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));

    public static List<(string Name, string Value)> Table(HpackDynamicTable table)
    {
        var entries = new List<(string, string)>();
        for (var index = 1; index <= table.Count; index++)
        {
            entries.Add((Encoding.Latin1.GetString(table.Name(index)), Encoding.Latin1.GetString(table.Value(index))));
        }

        return entries;
    }
}

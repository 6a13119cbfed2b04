using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>
/// The dynamic table as RFC 7541 §4 states it, in the plainest code (a list, newest first), so
/// that tests can compare the decoder's ring-and-buffer table against it after every change.
/// </summary>
internal sealed class ReferenceDynamicTable(int maxSize)
{
    public List<(string Name, string Value)> Entries { get; } = [];

    public int MaxSize { get; private set; } = maxSize;

    public int Size => Entries.Sum(entry => entry.Name.Length + entry.Value.Length + HpackDynamicTable.EntryOverhead);

    public void SetMaxSize(int maxSize)
    {
        MaxSize = maxSize;
        Evict();
    }

    public void Add(string name, string value)
    {
        Entries.Insert(0, (name, value));
        Evict();
    }

    private void Evict()
    {
        while (Size > MaxSize)
        {
            Entries.RemoveAt(Entries.Count - 1);
        }
    }
}

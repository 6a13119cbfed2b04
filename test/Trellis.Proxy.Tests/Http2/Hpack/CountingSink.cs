using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>Counts fields without keeping them, for the allocation test.</summary>
internal sealed class CountingSink : IHpackSink
{
    public int Count { get; private set; }

    public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Count++;
}

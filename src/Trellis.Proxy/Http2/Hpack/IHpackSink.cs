namespace Trellis.Proxy.Http2.Hpack;

/// <summary>Receives the fields of a decoded header block, in order. Spans are valid only during the call.</summary>
internal interface IHpackSink
{
    void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}

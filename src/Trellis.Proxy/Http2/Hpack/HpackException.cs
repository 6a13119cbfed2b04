namespace Trellis.Proxy.Http2.Hpack;

/// <summary>
/// A malformed header block: the connection must end with COMPRESSION_ERROR (RFC 9113 §4.3),
/// since the dynamic table can no longer be trusted to match the peer's. An exception rather than
/// a result value because it is rare, fatal to the connection, and raised deep inside the decoder.
/// </summary>
internal sealed class HpackException : Exception
{
    public HpackException()
    {
    }

    public HpackException(string message)
        : base(message)
    {
    }

    public HpackException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

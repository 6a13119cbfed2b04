namespace Trellis.Proxy.Http2.Hpack;

/// <summary>
/// How a well-formed header block decoded. A malformed one is not a result but an
/// <see cref="HpackException"/>, because it ends the whole connection rather than one stream.
/// </summary>
internal enum HpackResult
{
    Ok,

    /// <summary>The list passed the decoder's maximum size (RFC 9113 §6.5.2); the stream gets a 431.</summary>
    HeaderListTooLarge,
}

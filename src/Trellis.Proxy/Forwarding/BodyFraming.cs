namespace Trellis.Proxy.Forwarding;

/// <summary>How a request body follows its upstream head.</summary>
internal enum BodyFraming
{
    None,
    ContentLength,
    Chunked,
}

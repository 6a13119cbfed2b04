using System.Text;

namespace Trellis.Proxy.Capture;

/// <summary>What the first bytes of a captured connection say it speaks.</summary>
internal enum SniffedProtocol
{
    /// <summary>Too few bytes to tell: read more (or give up at the detection timeout).</summary>
    NeedMore,

    /// <summary>An HTTP/1.x request line (a known method, a space).</summary>
    Http1,

    /// <summary>The HTTP/2 connection preface (h2c with prior knowledge).</summary>
    Http2,

    /// <summary>Anything else: relayed as opaque TCP.</summary>
    Other,
}

/// <summary>
/// Protocol sniffing of a captured connection, as Envoy's <c>http_inspector</c> does for Istio's outbound capture: a
/// request line that starts with an HTTP method is HTTP/1.x, the h2 preface is HTTP/2, and anything else (TLS, a
/// database protocol) is TCP. A pure function of the bytes read so far.
/// </summary>
internal static class ProtocolSniffer
{
    // RFC 9110's methods and the WebDAV/PATCH ones Envoy's inspector knows; a method is followed by one space.
    private static readonly byte[][] Methods = [.. new[]
    {
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
    }.Select(m => Encoding.ASCII.GetBytes(m + " "))];

    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    public static SniffedProtocol Classify(ReadOnlySpan<byte> first)
    {
        if (first.IsEmpty)
        {
            return SniffedProtocol.NeedMore;
        }

        var partial = false;
        if (Starts(first, Preface, ref partial))
        {
            return SniffedProtocol.Http2;
        }

        foreach (var method in Methods)
        {
            if (Starts(first, method, ref partial))
            {
                return SniffedProtocol.Http1;
            }
        }

        return partial ? SniffedProtocol.NeedMore : SniffedProtocol.Other;
    }

    /// <summary>Whether <paramref name="bytes"/> begins with <paramref name="token"/>; sets <paramref name="partial"/> when they are a proper prefix of it.</summary>
    private static bool Starts(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> token, ref bool partial)
    {
        if (bytes.Length >= token.Length)
        {
            return bytes.StartsWith(token);
        }

        partial |= token.StartsWith(bytes);
        return false;
    }
}

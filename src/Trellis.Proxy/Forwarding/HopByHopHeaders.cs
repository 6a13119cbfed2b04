using System.Collections.Frozen;
using Microsoft.Extensions.Primitives;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), and so must not be
/// forwarded: the fixed list plus any header the Connection header names.
/// </summary>
internal static class HopByHopHeaders
{
    private static readonly FrozenSet<string> Always = new[]
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
        "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    public static bool IsHopByHop(string name) => Always.Contains(name);

    /// <summary>True when a Connection header value lists <paramref name="name"/> as a token.</summary>
    public static bool IsNamedByConnection(StringValues connection, string name)
    {
        foreach (var value in connection)
        {
            var rest = value.AsSpan();
            while (!rest.IsEmpty)
            {
                var comma = rest.IndexOf(',');
                var token = (comma >= 0 ? rest[..comma] : rest).Trim();
                if (token.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }

                rest = comma >= 0 ? rest[(comma + 1)..] : [];
            }
        }

        return false;
    }

    /// <summary>TE is hop-by-hop, but <c>TE: trailers</c> must reach HTTP/2 upstreams (gRPC requires it).</summary>
    public static bool AcceptsTrailers(StringValues te) => IsNamedByConnection(te, "trailers");
}

using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// The 64-bit hash consistent hashing picks by: xxHash64 with seed 0 over the key's UTF-8 bytes, as Envoy's
/// <c>HashUtil::xxHash64</c> hashes a header, cookie, query parameter or source address, and as it hashes an
/// endpoint's <c>address:port</c> onto a ring or into a Maglev table. Allocation-free for keys up to 512 bytes.
/// </summary>
internal static class HashKey
{
    private const int StackLimit = 512;

    public static ulong Hash(ReadOnlySpan<byte> key, long seed = 0) => XxHash64.HashToUInt64(key, seed);

    public static ulong Hash(ReadOnlySpan<char> key, long seed = 0)
    {
        var length = Encoding.UTF8.GetMaxByteCount(key.Length);
        if (length <= StackLimit)
        {
            Span<byte> buffer = stackalloc byte[StackLimit];
            return Hash(buffer[..Encoding.UTF8.GetBytes(key, buffer)], seed);
        }

        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            return Hash(rented.AsSpan(0, Encoding.UTF8.GetBytes(key, rented)), seed);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>An endpoint's key on a ring or in a table: Envoy's <c>address()->asString()</c>, <c>10.0.0.1:8080</c> or <c>[::1]:8080</c>.</summary>
    public static string EndpointKey(EndpointState endpoint) =>
        endpoint.Origin[(endpoint.Origin.IndexOf("://", StringComparison.Ordinal) + 3)..];

    /// <summary>
    /// The value of cookie <paramref name="name"/> in a <c>Cookie</c> field (<c>a=1; b=2</c>, RFC 6265 §5.4), for
    /// <see cref="Trellis.Api.Snapshots.HashKeyKind.Cookie"/>; the first of that name wins, as in Envoy's
    /// <c>parseCookieValue</c>. Quotes around the value are dropped.
    /// </summary>
    public static bool TryGetCookie(ReadOnlySpan<char> cookieField, ReadOnlySpan<char> name, out ReadOnlySpan<char> value)
    {
        // Several Cookie fields (HTTP/2 cookie crumbs, a client's own plus a cookie jar's) reach this joined with
        // commas, as routing joins fields; no cookie value holds an unquoted comma (RFC 6265 §4.1.1), so both separate.
        foreach (var range in cookieField.SplitAny(';', ','))
        {
            var pair = cookieField[range].Trim(' ');
            var equals = pair.IndexOf('=');
            if (equals > 0 && pair[..equals].Trim(' ').SequenceEqual(name))
            {
                value = pair[(equals + 1)..].Trim(' ');
                if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
                {
                    value = value[1..^1];
                }

                return true;
            }
        }

        value = default;
        return false;
    }
}

using System.Globalization;
using System.Net;
using System.Text;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// The target of an HTTP <c>CONNECT</c> request (RFC 9112 §3.2.3 authority-form: <c>uri-host ":" port</c>), as a workload
/// whose <c>HTTPS_PROXY</c> is its outbound listener sends it: a name or an IP literal (IPv6 in brackets) and a port,
/// both required. No user info, path, or empty part.
/// </summary>
/// <param name="Host">The name, lowercased, or the address as written without brackets.</param>
/// <param name="Address">The host as an IP address when it is a literal; null for a name.</param>
internal readonly record struct ConnectTarget(string Host, int Port, IPAddress? Address)
{
    /// <summary>The longest name DNS allows (RFC 1035), which also bounds an IPv6 literal.</summary>
    private const int MaxHost = 253;

    private static readonly System.Buffers.SearchValues<byte> DigitsAndDots = System.Buffers.SearchValues.Create(".0123456789"u8);

    public static bool TryParse(ReadOnlySpan<byte> authority, out ConnectTarget target, out string problem)
    {
        target = default;
        var colon = authority.LastIndexOf((byte)':');
        if (colon < 0)
        {
            problem = "the target has no port (CONNECT needs host:port)";
            return false;
        }

        var hostPart = authority[..colon];
        var portPart = authority[(colon + 1)..];
        if (portPart.IsEmpty || portPart.Length > 5 || portPart.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0
            || !int.TryParse(portPart, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            problem = "the target's port is not a port (1-65535)";
            return false;
        }

        if (hostPart.Length >= 2 && hostPart[0] == '[' && hostPart[^1] == ']')
        {
            var inside = hostPart[1..^1];
            if (inside.Length <= MaxHost && IPAddress.TryParse(Encoding.ASCII.GetString(inside), out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                target = new ConnectTarget(v6.ToString(), port, v6);
                problem = "";
                return true;
            }

            problem = "the target's bracketed host is not an IPv6 address";
            return false;
        }

        if (hostPart.IsEmpty || hostPart.Length > MaxHost || !IsName(hostPart))
        {
            problem = "the target's host is not a DNS name or an IP address";
            return false;
        }

        var host = Encoding.ASCII.GetString(hostPart).ToLowerInvariant();
        var address = IsDottedQuad(hostPart) && IPAddress.TryParse(host, out var v4) ? v4 : null;
        if (address is null && hostPart.IndexOfAnyExcept(DigitsAndDots) < 0)
        {
            problem = "the target's host is not a DNS name or an IP address";
            return false; // all digits and dots, yet not a.b.c.d: 127.1, 1.2.3.4.5
        }

        target = new ConnectTarget(host, port, address);
        problem = "";
        return true;
    }

    /// <summary>Letters, digits, '-' and '.', in labels of 1-63 characters that neither start nor end with '-'.</summary>
    private static bool IsName(ReadOnlySpan<byte> host)
    {
        foreach (var range in host.Split((byte)'.'))
        {
            var label = host[range];
            if (label.IsEmpty || label.Length > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterOrDigit((char)c) || c == '-'))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static bool IsDottedQuad(ReadOnlySpan<byte> host)
    {
        var parts = 0;
        foreach (var range in host.Split((byte)'.'))
        {
            var part = host[range];
            if (++parts > 4 || part.IsEmpty || part.Length > 3 || part.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
            {
                return false;
            }
        }

        return parts == 4;
    }

    public override string ToString() => Address is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 }
        ? string.Create(CultureInfo.InvariantCulture, $"[{Host}]:{Port}")
        : string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");
}

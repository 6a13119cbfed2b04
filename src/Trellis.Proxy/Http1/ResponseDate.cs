using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace Trellis.Proxy.Http1;

/// <summary>
/// The Date header the fast path adds when an upstream sent none (Kestrel always has one), encoded
/// once per second; plus the status lines, encoded once per status code.
/// </summary>
internal sealed class ResponseDate
{
    private static readonly byte[]?[] StatusLines = new byte[600][];

    private Entry _current = new(-1, []);

    /// <summary><c>Date: ...\r\n</c> for <paramref name="now"/>.</summary>
    public byte[] HeaderLine(DateTimeOffset now)
    {
        var second = now.ToUnixTimeSeconds();
        var current = Volatile.Read(ref _current);
        if (current.Second == second)
        {
            return current.Line;
        }

        var line = Encoding.ASCII.GetBytes("Date: " + now.ToString("r", CultureInfo.InvariantCulture) + "\r\n");
        Volatile.Write(ref _current, new Entry(second, line));
        return line;
    }

    /// <summary><c>HTTP/1.1 200 OK\r\n</c>: Kestrel's reason phrases, as the Kestrel path writes them.</summary>
    public static byte[] StatusLine(int status)
    {
        var cached = status is >= 100 and < 600 ? StatusLines[status] : null;
        if (cached is not null)
        {
            return cached;
        }

        var line = Encoding.ASCII.GetBytes(string.Create(
            CultureInfo.InvariantCulture, $"HTTP/1.1 {status} {ReasonPhrases.GetReasonPhrase(status)}\r\n"));
        if (status is >= 100 and < 600)
        {
            StatusLines[status] = line;
        }

        return line;
    }

    private sealed record Entry(long Second, byte[] Line);
}

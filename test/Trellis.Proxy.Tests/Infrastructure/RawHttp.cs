using System.Net.Sockets;
using System.Text;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>
/// Sends a hand-written HTTP/1.1 request over TCP, for what HttpClient refuses to send (custom
/// Connection tokens). Reads one response: its head plus a Content-Length or chunked body.
/// </summary>
internal static class RawHttp
{
    public static async Task<(string Head, string Body)> SendAsync(int port, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Replace("\n", "\r\n", StringComparison.Ordinal)));

        var received = new StringBuilder();
        var buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var text = received.ToString();
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd >= 0 && TryGetBody(text[..headEnd], text[(headEnd + 4)..], out var body))
            {
                return (text[..headEnd], body);
            }

            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                throw new IOException("Connection closed before a whole response arrived: " + text);
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
    }

    private static bool TryGetBody(string head, string rest, out string body)
    {
        body = string.Empty;
        var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (lengthLine is not null)
        {
            var length = int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            body = rest.Length >= length ? rest[..length] : string.Empty;
            return rest.Length >= length;
        }

        if (!rest.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
        {
            return false;
        }

        var decoded = new StringBuilder();
        var position = 0;
        while (true)
        {
            var lineEnd = rest.IndexOf("\r\n", position, StringComparison.Ordinal);
            var size = Convert.ToInt32(rest[position..lineEnd], 16);
            if (size == 0)
            {
                body = decoded.ToString();
                return true;
            }

            decoded.Append(rest, lineEnd + 2, size);
            position = lineEnd + 2 + size + 2;
        }
    }
}

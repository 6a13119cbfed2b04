using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>One response as a raw client read it: exact header lines, the body as framed on the wire and decoded.</summary>
internal sealed record RawResponse(
    string StatusLine, IReadOnlyList<(string Name, string Value)> Headers, string Body, string WireBody, IReadOnlyList<string> Trailers)
{
    public int Status => int.Parse(StatusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

    public string? Header(string name) =>
        Headers.Where(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    public int Count(string name) => Headers.Count(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// A client socket that writes exact bytes and reads responses one at a time off the same
/// connection, keeping bytes that belong to the next one: for pipelining, keep-alive and framing tests.
/// </summary>
internal sealed class RawClient : IDisposable
{
    private static readonly TimeSpan ReadLimit = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[256 * 1024];
    private int _start;
    private int _end;

    private RawClient(Socket socket) => _socket = socket;

    public static async Task<RawClient> ConnectAsync(int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return new RawClient(socket);
    }

    public async Task SendAsync(string text)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
        }
    }

    /// <summary>Reads one response; <paramref name="bodyless"/> for answers to HEAD and 1xx/204/304, which carry no body whatever their headers say.</summary>
    public async Task<RawResponse> ReadResponseAsync(bool bodyless = false)
    {
        using var limit = new CancellationTokenSource(ReadLimit);
        var head = await ReadLineBlockAsync(limit.Token);
        var lines = head.Split("\r\n");
        var headers = lines.Skip(1).Select(l =>
        {
            var colon = l.IndexOf(':', StringComparison.Ordinal);
            return (l[..colon], l[(colon + 1)..].Trim(' ', '\t'));
        }).ToList();
        var response = new RawResponse(lines[0], headers, string.Empty, string.Empty, []);
        return bodyless ? response : await ReadBodyAsync(response, limit.Token);
    }

    /// <summary>Reads the final response, skipping interim (1xx) ones as an HTTP/1.1 client must.</summary>
    public async Task<RawResponse> ReadFinalResponseAsync()
    {
        while (true)
        {
            var response = await ReadResponseAsync(bodyless: true);
            if (response.Status >= 200)
            {
                using var limit = new CancellationTokenSource(ReadLimit);
                return await ReadBodyAsync(response, limit.Token);
            }
        }
    }

    /// <summary>True when the server closes (or resets) the connection within the limit with nothing more to read.</summary>
    public async Task<bool> ClosedAsync(TimeSpan? within = null)
    {
        if (_end > _start)
        {
            return false;
        }

        using var limit = new CancellationTokenSource(within ?? ReadLimit);
        try
        {
            return !await FillAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Bytes that arrived (or are buffered) and no response read has used yet, now.</summary>
    public int Unread => (_end - _start) + _socket.Available;

    /// <summary>Bytes that arrived but no response read has used; call after a short wait to catch stray bytes.</summary>
    public async Task<int> PendingBytesAsync(TimeSpan wait)
    {
        await Task.Delay(wait);
        return (_end - _start) + _socket.Available;
    }

    /// <summary>Half-closes: shutdown(SHUT_WR), a FIN after the request; the client still reads.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Closes with a reset (linger 0) instead of a FIN.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Dispose();
    }

    public void Dispose() => _socket.Dispose();

    private async Task<RawResponse> ReadBodyAsync(RawResponse response, CancellationToken token)
    {
        if (response.Header("Transfer-Encoding") is { } coding && coding.Equals("chunked", StringComparison.OrdinalIgnoreCase))
        {
            return await ReadChunkedAsync(response, token);
        }

        if (response.Header("Content-Length") is { } length)
        {
            var body = await ReadExactlyAsync(int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), token);
            return response with { Body = body, WireBody = body };
        }

        // Neither: the body runs to the end of the connection.
        var rest = new StringBuilder();
        while (await FillAsync(token))
        {
        }

        rest.Append(Take(_end - _start));
        return response with { Body = rest.ToString(), WireBody = rest.ToString() };
    }

    private async Task<RawResponse> ReadChunkedAsync(RawResponse response, CancellationToken token)
    {
        var wire = new StringBuilder();
        var body = new StringBuilder();
        while (true)
        {
            var sizeLine = await ReadLineAsync(token);
            wire.Append(sizeLine).Append("\r\n");
            var semicolon = sizeLine.IndexOf(';', StringComparison.Ordinal);
            var size = Convert.ToInt32(semicolon >= 0 ? sizeLine[..semicolon] : sizeLine, 16);
            if (size == 0)
            {
                break;
            }

            var data = await ReadExactlyAsync(size + 2, token);
            wire.Append(data);
            body.Append(data, 0, size);
        }

        var trailers = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync(token);
            wire.Append(line).Append("\r\n");
            if (line.Length == 0)
            {
                return response with { Body = body.ToString(), WireBody = wire.ToString(), Trailers = trailers };
            }

            trailers.Add(line);
        }
    }

    private async Task<string> ReadLineBlockAsync(CancellationToken token)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var text = Take(end);
                _start += 4;
                return text;
            }

            if (!await FillAsync(token))
            {
                throw new IOException("Connection closed before a whole response head arrived: " + Take(_end - _start));
            }
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken token)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (end >= 0)
            {
                var text = Take(end);
                _start += 2;
                return text;
            }

            if (!await FillAsync(token))
            {
                throw new IOException("Connection closed inside a chunked body");
            }
        }
    }

    private async Task<string> ReadExactlyAsync(int count, CancellationToken token)
    {
        while (_end - _start < count)
        {
            if (!await FillAsync(token))
            {
                throw new IOException($"Connection closed after {_end - _start} of {count} body bytes");
            }
        }

        return Take(count);
    }

    private string Take(int count)
    {
        var text = Encoding.Latin1.GetString(_buffer, _start, count);
        _start += count;
        return text;
    }

    private async Task<bool> FillAsync(CancellationToken token)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        int read;
        try
        {
            read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, token);
        }
        catch (SocketException)
        {
            return false; // reset: closed all the same
        }

        _end += read;
        return read > 0;
    }
}

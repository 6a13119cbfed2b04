using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>
/// One HTTP/1.1 exchange over TLS as upstream's TLS round tripper makes it: the server name (SNI) chosen apart from
/// the Host field, so a test can ask a listener for one host under another's certificate; the gateway's
/// certificate must be exactly the suite's. HttpClient cannot do this (it takes SNI from the Host field).
/// </summary>
internal static class GatewayTls
{
    public static async Task<Captured> SendAsync(string address, string sni, byte[] trusted, ConformanceRequest request)
    {
        try
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(address, 443, cancel.Token);
            await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false,
                (_, certificate, _, _) => certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(trusted));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = sni, ApplicationProtocols = [SslApplicationProtocol.Http11] }, cancel.Token);
            var head = new StringBuilder($"{request.Method} {request.Path} HTTP/1.1\r\nHost: {request.Host ?? sni}\r\nConnection: close\r\n");
            foreach (var (name, value) in request.Headers ?? new Dictionary<string, string>())
            {
                head.Append($"{name}: {value}\r\n");
            }

            await tls.WriteAsync(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()), cancel.Token);
            using var reader = new StreamReader(tls, Encoding.UTF8);
            return Parse(await reader.ReadToEndAsync(cancel.Token));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            return new Captured(0, null, new Dictionary<string, string>(), null);
        }
    }

    private static Captured Parse(string response)
    {
        var split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var lines = (split < 0 ? response : response[..split]).Split("\r\n");
        var status = lines[0].Split(' ') is [_, var code, ..] && int.TryParse(code, out var n) ? n : 0;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                headers[name] = headers.TryGetValue(name, out var before) ? before + "," + value : value;
            }
        }

        var body = split < 0 ? "" : response[(split + 4)..];
        if (headers.TryGetValue("Transfer-Encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Unchunk(body);
        }

        JsonObject? echo = null;
        if (headers.TryGetValue("Content-Type", out var type) && type.StartsWith("application/json", StringComparison.Ordinal))
        {
            try
            {
                echo = JsonNode.Parse(body) as JsonObject;
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }

        return new Captured(status, headers.TryGetValue("Location", out var location) ? new Uri(location, UriKind.RelativeOrAbsolute) : null, headers, echo);
    }

    private static string Unchunk(string body)
    {
        var output = new StringBuilder();
        var at = 0;
        while (at < body.Length)
        {
            var end = body.IndexOf("\r\n", at, StringComparison.Ordinal);
            if (end < 0 || !int.TryParse(body[at..end].Split(';')[0], System.Globalization.NumberStyles.HexNumber, null, out var size) || size == 0)
            {
                break;
            }

            output.Append(body, end + 2, Math.Min(size, body.Length - end - 2));
            at = end + 2 + size + 2;
        }

        return output.ToString();
    }
}

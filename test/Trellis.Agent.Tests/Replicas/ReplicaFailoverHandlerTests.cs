using System.Net;
using System.Net.Sockets;
using System.Text;
using Trellis.Agent.Replicas;

namespace Trellis.Agent.Tests.Replicas;

public sealed class ReplicaFailoverHandlerTests
{
    [Fact]
    public async Task Send_FirstReplicaRefuses_GoesOnToTheNextAndStaysThere()
    {
        var dead = DeadEndpoint();
        using var live = new TcpListener(IPAddress.Loopback, 0);
        live.Start();
        var port = ((IPEndPoint)live.LocalEndpoint).Port;
        var serving = AnswerAsync(live, count: 2);
        using var handler = ReplicaFailoverHandler.Create([new Uri($"http://127.0.0.1:{dead}"), new Uri($"http://127.0.0.1:{port}")]);
        using var http = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{dead}") };

        var first = await http.PutAsync("/registry/v1/nodes/n1?x=1", new StringContent("{}", Encoding.UTF8, "application/json"));
        var second = await http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var requests = await serving;
        Assert.StartsWith("PUT /registry/v1/nodes/n1?x=1 HTTP/1.1", requests[0], StringComparison.Ordinal);
        Assert.Equal(port, handler.Current.Port);
    }

    [Fact]
    public async Task Send_NoReplicaAnswers_FailsWithTheConnectionError()
    {
        using var http = new HttpClient(ReplicaFailoverHandler.Create([new Uri($"http://127.0.0.1:{DeadEndpoint()}"), new Uri($"http://127.0.0.1:{DeadEndpoint()}")]))
        {
            BaseAddress = new Uri("http://127.0.0.1:1"),
        };

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/healthz"));
        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
    }

    [Theory]
    [InlineData("http://a:15000", 1, null)]
    [InlineData("http://a:15000, http://b:15000", 2, null)]
    [InlineData("http://a:15000,ftp://b", 0, "--server http://a:15000,ftp://b: \"ftp://b\" is not an http:// URL")]
    [InlineData(" , ", 0, "--server: no URL given")]
    public void Parse_List_ReplicasOrAPreciseError(string value, int count, string? error)
    {
        var (replicas, message) = ReplicaList.Parse(value, "--server");

        Assert.Equal(count, replicas.Count);
        Assert.Equal(error, message);
    }

    /// <summary>A port nothing listens on: bound, then released.</summary>
    private static int DeadEndpoint()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static async Task<List<string>> AnswerAsync(TcpListener listener, int count)
    {
        var heads = new List<string>();
        for (var i = 0; i < count; i++)
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buffer = new byte[8192];
            var read = await stream.ReadAsync(buffer);
            heads.Add(Encoding.ASCII.GetString(buffer, 0, read));
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
        }

        return heads;
    }
}

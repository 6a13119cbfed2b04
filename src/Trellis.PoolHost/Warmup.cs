using System.Net.Sockets;
using System.Text;

namespace Trellis.PoolHost;

/// <summary>
/// Loads and JIT-compiles what an ASP.NET Core function's start and first request need, by running
/// a throwaway app the way a minimal-API function does (slim builder, Kestrel on loopback, the usual
/// handler shapes) and calling it once per endpoint. The app is disposed before any function runs,
/// which also releases the SIGTERM/SIGINT registrations of its console lifetime: the function's own
/// host registers its handlers and its graceful shutdown works as in a plain start.
/// </summary>
internal static class Warmup
{
    private const string SampleRequest =
        """{"assembly":"/f.dll","args":["a"],"env":{"A":"1"},"workingDirectory":"/","logPath":"/l","properties":{"p":"1"}}""";

    private const string Address = "127.0.0.2";

    public static void Run()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // 127.0.0.2, not 127.0.0.1: the agent allocates instance ports by binding port 0 on
        // 127.0.0.1 and releasing it, so a warm-up bound there could take an instance's port
        // before the instance does (its probe would then find the warm-up listening).
        builder.WebHost.UseUrls($"http://{Address}:0");
        var app = builder.Build();
        app.MapGet("/query", (HttpRequest r) => $"n={r.Query["n"]}\n");
        app.MapGet("/json", () => Results.Json(new WarmupAnswer("warm", 1)));
        app.MapPost("/async", async (HttpRequest r, CancellationToken ct) =>
        {
            using var body = new StreamReader(r.Body);
            return await body.ReadToEndAsync(ct);
        });
        app.MapFallback(() => "warm\n");
        app.StartAsync().GetAwaiter().GetResult();
        var port = new Uri(app.Urls.First()).Port;
        foreach (var request in new[] { "GET / ", "GET /query?n=1 ", "GET /json ", "POST /async " })
        {
            Call(port, request);
        }

        app.StopAsync().GetAwaiter().GetResult();
        app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _ = SpecializeRequest.Parse(SampleRequest);

        // The function starts with a clean heap rather than the warm-up's garbage.
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static void Call(int port, string requestLine)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(Address, port);
        socket.Send(Encoding.ASCII.GetBytes(requestLine + "HTTP/1.1\r\nHost: warmup\r\nContent-Length: 4\r\nConnection: close\r\n\r\nwarm"));
        var buffer = new byte[4096];
        while (socket.Receive(buffer) > 0)
        {
        }
    }

    private sealed record WarmupAnswer(string State, int Count);
}

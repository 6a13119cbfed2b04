using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trellis.Runtime.Tests.Activation;

public class SocketActivationTests
{
    // Serves one HTTP answer on the socket it was given (fd 3), after an optional pause, then exits.
    private const string App = """
        import os, socket, sys, time
        if os.environ.get("LISTEN_FDS") != "1" or os.environ.get("LISTEN_PID") != str(os.getpid()):
            print("no socket: LISTEN_FDS=%s LISTEN_PID=%s pid=%d" % (os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID"), os.getpid()), flush=True)
            sys.exit(3)
        listener = socket.socket(fileno=3)
        print("listening on", listener.getsockname()[1], "PORT", os.environ["PORT"], flush=True)
        time.sleep(float(sys.argv[1]))
        while True:
            conn, _ = listener.accept()
            if conn.recv(4096):  # the readiness probe's connection (TCP) sends nothing
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nfrom fd 3")
                conn.close()
                break
            conn.close()
        """;

    [Fact]
    public async Task Reconcile_SocketActivation_ReadyBeforeTheAppAcceptsAndItsAnswerComesFromFd3()
    {
        await using var h = new Harness(initialBackoff: TimeSpan.FromSeconds(30));
        var app = await WriteAppAsync(h);
        // The app sleeps 1 s before it accepts: the instance is ready (the agent's socket listens) long before.
        h.Supervisor.Reconcile([Harness.Shell("sa", $"exec python3 {app} 1") with { SocketActivation = true }]);

        var ready = (await h.WaitAsync(i => i.Count == 1 && i[0].Ready, what: "ready"))[0];
        Assert.NotNull(ready.ReadyAt);
        Assert.True(ready.ReadyAt - ready.StartedAt < TimeSpan.FromSeconds(1), $"ready {ready.ReadyAt - ready.StartedAt} after start");
        var answer = await GetAsync(ready.Port);

        Assert.EndsWith("from fd 3", answer, StringComparison.Ordinal);
        var log = await File.ReadAllTextAsync(ready.LogPath);
        Assert.Contains($"listening on {ready.Port} PORT {ready.Port}", log, StringComparison.Ordinal);
        // The app exited after one answer and held the only copy of the socket: the port refuses now.
        await h.WaitAsync(i => i[0].Phase == InstancePhase.CrashLoopBackOff, what: "exited");
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, ready.Port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task Reconcile_WithoutSocketActivation_AppGetsNoSocket()
    {
        await using var h = new Harness(initialBackoff: TimeSpan.FromSeconds(30));
        var app = await WriteAppAsync(h);
        h.Supervisor.Reconcile([Harness.Shell("plain", $"exec python3 {app} 0")]);

        var exited = (await h.WaitAsync(i => i.Count == 1 && i[0].Phase == InstancePhase.CrashLoopBackOff, what: "exited"))[0];

        Assert.Equal(3, exited.LastExitCode);
        Assert.StartsWith("no socket: LISTEN_FDS=None", await File.ReadAllTextAsync(exited.LogPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reconcile_SocketActivationPortTaken_RestartFailsWithTheReason()
    {
        await using var h = new Harness(initialBackoff: TimeSpan.FromMilliseconds(800));
        var app = await WriteAppAsync(h);
        h.Supervisor.Reconcile([Harness.Shell("sa", $"exec python3 {app} 0") with { SocketActivation = true }]);
        var first = (await h.WaitAsync(i => i.Count == 1 && i[0].Ready, what: "ready"))[0];
        await GetAsync(first.Port);
        await h.WaitAsync(i => i[0].Phase == InstancePhase.CrashLoopBackOff, what: "exited");

        // Someone else takes the port while the instance waits to restart (a port is kept across restarts).
        using var squatter = new Socket(SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, first.Port));
        squatter.Listen();
        var failed = (await h.WaitAsync(i => i[0].Restarts >= 1 && i[0].Message?.Contains("in use", StringComparison.OrdinalIgnoreCase) == true, what: "bind failure"))[0];

        Assert.Null(failed.Pid);
        Assert.Equal(InstancePhase.CrashLoopBackOff, failed.Phase);
    }

    private static async Task<string> WriteAppAsync(Harness h)
    {
        var path = Path.Combine(h.DataDirectory, "app.py");
        await File.WriteAllTextAsync(path, App);
        return path;
    }

    private static async Task<string> GetAsync(int port)
    {
        using var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port);
        await client.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
        var buffer = new byte[4096];
        var text = new StringBuilder();
        int n;
        while ((n = await client.ReceiveAsync(buffer)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return text.ToString();
    }
}

using System.Text;
using Trellis.Runtime.Activation;

namespace Trellis.Runtime.Tests.Activation;

/// <summary>Readiness notification (sd_notify's READY=1): parsing, and the probe loop waking on it with the clock frozen.</summary>
public class NotifySocketTests
{
    // Prints its NOTIFY_SOCKET, waits for the file named by argv[1], then listens on PORT and sends
    // "STATUS=…\nREADY=1" to the notification socket, and serves connections until killed.
    private const string App = """
        import os, socket, sys, time
        print("started", os.environ.get("NOTIFY_SOCKET"), flush=True)
        while not os.path.exists(sys.argv[1]):
            time.sleep(0.005)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(os.environ["PORT"])))
        s.listen()
        addr = os.environ["NOTIFY_SOCKET"]
        n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        n.sendto(b"STATUS=serving\nREADY=1", "\0" + addr[1:] if addr.startswith("@") else addr)
        print("notified", flush=True)
        while True:
            c, _ = s.accept()
            c.close()
        """;

    [Theory]
    [InlineData("READY=1", true)]
    [InlineData("STATUS=starting\nREADY=1", true)]
    [InlineData("READY=1\nSTATUS=up\n", true)]
    [InlineData("STATUS=starting", false)]
    [InlineData("READY=0", false)]
    [InlineData("READY=10", false)]
    [InlineData("XREADY=1", false)]
    [InlineData("", false)]
    public void SaysReady_Datagram_OnlyTheReadyLineCounts(string datagram, bool expected) =>
        Assert.Equal(expected, NotifySocket.SaysReady(Encoding.ASCII.GetBytes(datagram)));

    [Fact]
    public async Task Reconcile_ProcessNotifiesReady_ReadyAtOnceWhileTheProbeIntervalNeverPasses()
    {
        // The clock never moves: after its first failed probe the loop waits a 5 ms interval that never
        // ends, so only the notification can make it probe again.
        var time = new ManualTimeProvider();
        await using var h = new Harness(time, initialBackoff: TimeSpan.FromSeconds(30));
        var app = Path.Combine(h.DataDirectory, "app.py");
        var go = Path.Combine(h.DataDirectory, "go");
        await File.WriteAllTextAsync(app, App);
        h.Supervisor.Reconcile([Harness.Shell("notify", $"exec python3 {app} {go}")]);

        var started = (await h.WaitAsync(i => i.Count == 1 && i[0].Pid is not null && File.Exists(i[0].LogPath) && File.ReadAllText(i[0].LogPath).StartsWith("started", StringComparison.Ordinal), what: "app started"))[0];
        await WaitForAsync(() => time.PendingDelays().Contains(ProbeTracker.FastPeriod), "the probe loop waiting its interval");
        Assert.False(h.Supervisor.Instances[0].Ready);
        Assert.StartsWith("started @trellis/notify/", await File.ReadAllTextAsync(started.LogPath), StringComparison.Ordinal);

        await File.WriteAllTextAsync(go, "");
        var ready = (await h.WaitAsync(i => i[0].Ready, what: "ready on READY=1"))[0];

        Assert.Equal(InstancePhase.Ready, ready.Phase);
        Assert.Contains("notified", await File.ReadAllTextAsync(ready.LogPath), StringComparison.Ordinal);
        Assert.Equal(time.GetUtcNow(), ready.ReadyAt); // no time passed on the supervisor's clock
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for " + what);
            }

            await Task.Delay(10);
        }
    }
}

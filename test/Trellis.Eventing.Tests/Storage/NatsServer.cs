using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Trellis.Eventing.Tests.Storage;

/// <summary>
/// A real NATS server with JetStream (Debian's nats-server, installed by ./scripts/test), started by
/// the project's <c>scripts/nats-server</c> on a free loopback port with its data in a temp directory.
/// It can be killed (SIGKILL, as a crash) and started again on the same data; on dispose it is killed
/// and the directory removed, also when the test failed.
/// </summary>
public sealed class NatsServer : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-nats-" + Guid.NewGuid().ToString("N"));
    private readonly int _port = FreePorts.Next();
    private readonly string[] _cluster;
    private Process? _process;

    private NatsServer(string[]? cluster = null) => _cluster = cluster ?? [];

    public string Url => $"nats://127.0.0.1:{_port}";

    /// <summary>The server's name (its JetStream cluster peer name), or null outside a cluster.</summary>
    public string? Name { get; private init; }

    /// <summary>
    /// A JetStream cluster of <paramref name="size"/> servers (names <c>n1</c>..), each routed to the others through
    /// <c>scripts/nats-server --cluster-port --routes</c>, all started at once, then each waited for. JetStream elects
    /// its meta leader a moment later: until then creating a stream fails, and callers retry.
    /// </summary>
    public static async Task<NatsServer[]> StartClusterAsync(int size)
    {
        var clusterPorts = Enumerable.Range(0, size).Select(_ => FreePorts.Next()).ToArray();
        var servers = clusterPorts.Select((port, i) => new NatsServer(
        [
            "--name", $"n{i + 1}", "--cluster-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--routes", string.Join(",", clusterPorts.Where(p => p != port).Select(p => $"nats://127.0.0.1:{p}")),
        ])
        { Name = $"n{i + 1}" }).ToArray();
        try
        {
            await Task.WhenAll(servers.Select(s => s.RestartAsync()));
            return servers;
        }
        catch
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }

            throw;
        }
    }

    public static async Task<NatsServer> StartAsync()
    {
        var server = new NatsServer();
        try
        {
            await server.RestartAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server (again) on the same port and data directory and waits until it accepts connections.</summary>
    public async Task RestartAsync()
    {
        Assert.True(File.Exists("/usr/sbin/nats-server") || File.Exists("/usr/bin/nats-server"), "nats-server is missing: ./scripts/test installs Debian's nats-server");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(RepositoryRoot(), "scripts", "nats-server"), "--port", _port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dir", _dir }.Concat(_cluster))
        {
            start.ArgumentList.Add(arg);
        }

        // Ready once it says so (JetStream recovered its streams), not merely once the port accepts.
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = Process.Start(start)!;
        DataReceivedEventHandler watch = (_, e) =>
        {
            if (e.Data?.Contains("Server is ready", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        _process.OutputDataReceived += watch;
        _process.ErrorDataReceived += watch;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(first == ready.Task, first == exited ? $"nats-server exited with {_process.ExitCode}" : $"nats-server on {_port} did not start");
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _port);
    }

    /// <summary>SIGKILLs the server, as a crash of its host process would.</summary>
    public void Kill()
    {
        if (_process is { } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            p.Dispose();
            _process = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await Task.Yield();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Trellis.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException($"no Trellis.slnx above {AppContext.BaseDirectory}");
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Trellis.ControlPlane.Store.Etcd;

namespace Trellis.ControlPlane.Tests.Etcd;

/// <summary>
/// A real etcd cluster (Debian's etcd-server, installed by ./scripts/test) of one or more members on
/// free loopback ports, with its data in a temp directory; every member is killed and the directory
/// removed on dispose, also when the test failed.
/// </summary>
public sealed class EtcdCluster : IAsyncDisposable
{
    private const string Binary = "/usr/bin/etcd";
    private readonly string _dir;
    private readonly Process?[] _members;
    private readonly (int Client, int Peer)[] _ports;

    private EtcdCluster(string dir, (int, int)[] ports)
    {
        _dir = dir;
        _ports = ports;
        _members = new Process?[ports.Length];
    }

    public IReadOnlyList<Uri> Endpoints => _ports.Select(p => new Uri($"http://127.0.0.1:{p.Client}")).ToList();

    /// <summary>The <c>--store</c> URL of the control plane.</summary>
    public string StoreUrl => "etcd://" + string.Join(",", _ports.Select(p => $"127.0.0.1:{p.Client}"));

    public static async Task<EtcdCluster> StartAsync(int members = 1)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: ./scripts/test installs Debian's etcd-server");
        var dir = Path.Combine(Path.GetTempPath(), "trellis-etcd-" + Guid.NewGuid().ToString("N"));
        var cluster = new EtcdCluster(dir, Enumerable.Range(0, members).Select(_ => (FreePorts.Next(), FreePorts.Next())).ToArray());
        try
        {
            for (var i = 0; i < members; i++)
            {
                cluster.StartMember(i);
            }

            await cluster.WaitHealthyAsync(TimeSpan.FromSeconds(30));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public EtcdConnection Connect() => new(Endpoints);

    /// <summary>SIGKILLs one member, as a host dying would.</summary>
    public void Kill(int member)
    {
        if (_members[member] is { } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            p.Dispose();
            _members[member] = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < _members.Length; i++)
        {
            Kill(i);
        }

        await Task.Yield();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private void StartMember(int i)
    {
        var initialCluster = string.Join(",", _ports.Select((p, n) => $"m{n}=http://127.0.0.1:{p.Peer}"));
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name", $"m{i}", "--data-dir", Path.Combine(_dir, $"m{i}"),
            "--listen-client-urls", $"http://127.0.0.1:{_ports[i].Client}", "--advertise-client-urls", $"http://127.0.0.1:{_ports[i].Client}",
            "--listen-peer-urls", $"http://127.0.0.1:{_ports[i].Peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{_ports[i].Peer}",
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", Path.GetFileName(_dir),
            "--logger", "zap", "--log-level", "error",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _members[i] = process;
    }

    private async Task WaitHealthyAsync(TimeSpan limit)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + limit;
        foreach (var endpoint in Endpoints)
        {
            while (true)
            {
                try
                {
                    if ((await http.GetStringAsync(new Uri(endpoint, "/health"))).Contains("\"health\":\"true\"", StringComparison.Ordinal))
                    {
                        break;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }

                Assert.True(DateTime.UtcNow < deadline, $"etcd at {endpoint} did not become healthy");
                await Task.Delay(50);
            }
        }
    }
}

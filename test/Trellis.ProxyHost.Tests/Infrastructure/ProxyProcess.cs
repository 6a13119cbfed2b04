using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trellis.ProxyHost.Tests.Infrastructure;

/// <summary>One build of trellis-proxy running as a real process; its output is kept for failure messages.</summary>
public sealed class ProxyProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ProxyProcess(ProxyBuild build, Process process)
    {
        Build = build;
        _process = process;
        process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(_stderr, e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => _exited.TrySetResult();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (process.HasExited)
        {
            _exited.TrySetResult();
        }
    }

    public ProxyBuild Build { get; }

    public int Pid => _process.Id;

    public string Stdout => Read(_stdout);

    public string Stderr => Read(_stderr);

    public static ProxyProcess Start(ProxyBuild build, params string[] args) => new(build, Process.Start(build.StartInfo(args))!);

    /// <summary>Runs to its exit (a refused snapshot, a bad command line): exit code, stdout, stderr.</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(ProxyBuild build, params string[] args)
    {
        await using var proxy = Start(build, args);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await proxy._exited.Task.WaitAsync(limit.Token);
        await proxy._process.WaitForExitAsync(limit.Token); // the output is all read once this returns
        return (proxy._process.ExitCode, proxy.Stdout, proxy.Stderr);
    }

    /// <summary>Waits until every port accepts connections (the proxy bound its listeners), or fails with the proxy's output.</summary>
    public async Task WaitForPortsAsync(params int[] ports)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        foreach (var port in ports)
        {
            while (true)
            {
                if (_exited.Task.IsCompleted)
                {
                    throw new InvalidOperationException($"{Build} proxy exited with {_process.ExitCode}:\n{Stdout}\n{Stderr}");
                }

                try
                {
                    using var tcp = new TcpClient();
                    await tcp.ConnectAsync(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(20);
                }
            }
        }
    }

    /// <summary>SIGTERM (the role shuts down in order), then SIGKILL if it has not exited within 10 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder to, string? line)
    {
        if (line is not null)
        {
            lock (to)
            {
                to.AppendLine(line);
            }
        }
    }

    private static string Read(StringBuilder from)
    {
        lock (from)
        {
            return from.ToString();
        }
    }
}

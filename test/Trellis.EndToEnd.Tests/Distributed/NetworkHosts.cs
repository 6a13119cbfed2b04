using System.Diagnostics;
using System.Text;

namespace Trellis.EndToEnd.Tests.Distributed;

/// <summary>
/// Separate hosts on one machine: a network namespace per host, each with a veth whose other end is
/// on a bridge in a hub namespace, on a private /24 used only here (10.213.0.0/24, reachable from
/// nowhere else: the root namespace is not touched). Processes run in a host with
/// <c>ip netns exec</c>. Dispose kills every process in every namespace it made and deletes the
/// namespaces (and so their links), also after a failed test.
/// </summary>
public sealed class NetworkHosts : IAsyncDisposable
{
    public const string Subnet = "10.213.0";

    private readonly string _prefix = "trl" + Guid.NewGuid().ToString("N")[..5];
    private readonly List<string> _namespaces = [];
    private readonly List<(string Host, Process Process, StringBuilder Output)> _processes = [];

    public string Hub => _prefix + "-hub";

    public static void RequireTools()
    {
        Assert.True(File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip") || File.Exists("/usr/bin/ip"), "iproute2 (ip) is needed: ./scripts/test installs it");
        Assert.True(Environment.UserName == "root" || Environment.GetEnvironmentVariable("SUDO_USER") is not null, "network namespaces need root");
    }

    public async Task CreateHubAsync()
    {
        await IpAsync("netns", "add", Hub);
        _namespaces.Add(Hub);
        await IpAsync("-n", Hub, "link", "add", "br0", "type", "bridge");
        await IpAsync("-n", Hub, "link", "set", "br0", "up");
    }

    /// <summary>A host at <c>10.213.0.&lt;last&gt;</c>; returns its namespace name.</summary>
    public async Task<string> AddHostAsync(string name, int last)
    {
        var ns = $"{_prefix}-{name}";
        await IpAsync("netns", "add", ns);
        _namespaces.Add(ns);
        var port = $"{_prefix[3..]}{last}";
        await IpAsync("-n", Hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await IpAsync("-n", Hub, "link", "set", port, "master", "br0", "up");
        await IpAsync("-n", ns, "addr", "add", $"{Subnet}.{last}/24", "dev", "eth0");
        await IpAsync("-n", ns, "link", "set", "eth0", "up");
        await IpAsync("-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>Starts a long-running process in a host; its output is kept for failure messages.</summary>
    public Process Start(string ns, string file, params string[] args)
    {
        var info = new ProcessStartInfo("ip") { WorkingDirectory = TrellisBinary.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, file }.Concat(args))
        {
            info.ArgumentList.Add(a);
        }

        foreach (var v in new[] { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy" })
        {
            info.Environment.Remove(v);
        }

        var process = Process.Start(info)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_processes)
        {
            _processes.Add((ns, process, output));
        }

        return process;
    }

    /// <summary>Runs a command in a host to completion.</summary>
    public static async Task<(int Exit, string Output)> RunAsync(string ns, TimeSpan timeout, string file, params string[] args)
    {
        var info = new ProcessStartInfo("ip") { WorkingDirectory = TrellisBinary.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, file }.Concat(args))
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            return (-1, "timed out");
        }

        return (p.ExitCode, await stdout + await stderr);
    }

    /// <summary>The output of every process started in <paramref name="ns"/>.</summary>
    public string OutputOf(string ns)
    {
        lock (_processes)
        {
            return string.Join("\n", _processes.Where(p => p.Host == ns).Select(p => { lock (p.Output) { return p.Output.ToString(); } }));
        }
    }

    /// <summary>Every process in the namespace, as the host's power going off would: SIGKILL, nothing runs after.</summary>
    public static async Task KillHostAsync(string ns)
    {
        var (_, pids) = await RunIpAsync("netns", "pids", ns);
        foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                using var p = Process.GetProcessById(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture));
                p.Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var ns in _namespaces)
        {
            await KillHostAsync(ns);
        }

        lock (_processes)
        {
            foreach (var (_, p, _) in _processes)
            {
                try
                {
                    p.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }

                p.Dispose();
            }
        }

        foreach (var ns in _namespaces.AsEnumerable().Reverse())
        {
            await RunIpAsync("netns", "del", ns); // takes the namespace's links with it
        }
    }

    private static async Task IpAsync(params string[] args)
    {
        var (exit, output) = await RunIpAsync(args);
        Assert.True(exit == 0, $"ip {string.Join(' ', args)}: {output}");
    }

    private static async Task<(int Exit, string Output)> RunIpAsync(params string[] args)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stdout = await p.StandardOutput.ReadToEndAsync();
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, stdout + stderr);
    }
}

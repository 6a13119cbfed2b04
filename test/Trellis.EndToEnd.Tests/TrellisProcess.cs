using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trellis.EndToEnd.Tests;

/// <summary>A long-running trellis role (up, controlplane) started as a real process; its output is kept for failure messages.</summary>
public sealed class TrellisProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private TrellisProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static TrellisProcess Start(params string[] args) => Start(sigintDefault: false, args);

    /// <summary>With environment variables set (or removed, when null) for this process only.</summary>
    public static TrellisProcess StartWith(IReadOnlyDictionary<string, string?> env, params string[] args) => Start(sigintDefault: false, env, args);

    /// <summary>
    /// With <paramref name="sigintDefault"/>, SIGINT goes back to its default before trellis starts: a
    /// test runner may have been started with SIGINT ignored (as a script's background job is), and an
    /// ignored signal stays ignored across exec, so trellis could never see a Ctrl-C otherwise.
    /// </summary>
    public static TrellisProcess Start(bool sigintDefault, params string[] args) => Start(sigintDefault, new Dictionary<string, string?>(), args);

    private static TrellisProcess Start(bool sigintDefault, IReadOnlyDictionary<string, string?> env, string[] args)
    {
        var info = new ProcessStartInfo(sigintDefault ? "python3" : "dotnet") { WorkingDirectory = TrellisBinary.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        if (sigintDefault)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])");
            info.ArgumentList.Add("dotnet");
        }

        info.ArgumentList.Add(TrellisBinary.Dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment.Remove("HTTP_PROXY");
        info.Environment.Remove("http_proxy");
        foreach (var (name, value) in env)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        return new TrellisProcess(Process.Start(info)!);
    }

    /// <summary>Runs a client verb to completion: exit code and everything it printed.</summary>
    public static Task<(int Exit, string Stdout, string Stderr)> RunAsync(string server, params string[] args) =>
        RunWithAsync(new Dictionary<string, string?>(), [.. args, "--server", server]);

    /// <summary>Runs a client verb as typed (no --server added), with environment variables set or removed (null).</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunWithAsync(IReadOnlyDictionary<string, string?> env, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = TrellisBinary.RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(TrellisBinary.Dll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (name, value) in env)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Sends SIGINT (Ctrl-C), or another signal, and waits for the process to exit.</summary>
    public async Task<bool> InterruptAsync(TimeSpan wait, string signal = "-INT")
    {
        using (var kill = Process.Start("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Waits for the process to exit on its own; false if it is still running after <paramref name="wait"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void KillHard() => _process.Kill(entireProcessTree: true);

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return; // a fixture whose start-up failed has already stopped it
        }

        if (!_process.HasExited)
        {
            if (!await InterruptAsync(TimeSpan.FromSeconds(15)))
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}

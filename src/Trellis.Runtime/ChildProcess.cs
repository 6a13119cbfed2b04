using System.Diagnostics;

namespace Trellis.Runtime;

/// <summary>
/// One started OS process of an instance.
/// <para>
/// Process group: <see cref="Process.Start()"/> cannot call setsid(2) in the child, so the command
/// is wrapped in <c>setsid</c> (util-linux), which calls setsid() and execs without forking because
/// the freshly forked child is never a group leader. The pid we hold is then the session and group
/// id, and a signal to <c>-pid</c> reaches every descendant that did not leave the group itself
/// (daemons do; <see cref="Process.Kill(bool)"/> on the tree catches those at SIGKILL time). Being
/// in its own session also keeps Ctrl-C in the agent's terminal from reaching the workloads, so
/// the agent decides how they stop. Where setsid is missing (macOS) the process shares the agent's
/// group and only the tree kill applies.
/// </para>
/// <para>
/// Output: a <c>/bin/sh</c> wrapper execs the command with stdout and stderr appended straight to
/// the log file, so logs do not pass through the agent (no pipe to drain, nothing lost when the
/// agent is slow or gone) and stdin is /dev/null.
/// </para>
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private const string SetsidPath = "/usr/bin/setsid";
    private const string ShellPath = "/bin/sh";

    // $1 is the log path; the rest is the command line, passed as arguments so nothing is re-parsed.
    private const string Wrapper = "log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1";

    // Socket activation (Activation/ListenSocket.cs): $2 is the inherited listening socket's number,
    // moved to fd 3; LISTEN_PID is the shell's own pid, which exec keeps for the command. Run by bash:
    // dash (Debian's /bin/sh) takes single-digit descriptors only, and the socket's is larger.
    private const string BashPath = "/bin/bash";
    private const string ActivationWrapper =
        "log=$1; fd=$2; shift 2; [ \"$fd\" = 3 ] || eval \"exec 3<&$fd $fd<&-\"; " +
        "LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec \"$@\" </dev/null >>\"$log\" 2>&1";

    // Held over every start: a socket made inheritable for one child must not leak into another.
    private static readonly Lock StartGate = new();

    private static readonly bool HasSetsid = File.Exists(SetsidPath);

    private readonly Process process;

    private ChildProcess(Process process, bool ownGroup)
    {
        this.process = process;
        OwnGroup = ownGroup;
        Pid = process.Id;
        Exited = process.WaitForExitAsync();
    }

    public int Pid { get; }

    public bool OwnGroup { get; }

    /// <summary>Completes when the process has exited and been reaped.</summary>
    public Task Exited { get; }

    public int ExitCode => process.ExitCode;

    /// <summary>
    /// Starts <paramref name="executable"/>; throws when it cannot be started. With <paramref name="listen"/>
    /// the process gets that listening socket as fd 3 (socket activation); the caller closes its own copy after.
    /// </summary>
    public static ChildProcess Start(
        string executable,
        IReadOnlyList<string> args,
        string workingDirectory,
        IReadOnlyDictionary<string, string> env,
        string logPath,
        Records.ProcessRecords? records = null,
        string what = "",
        TimeSpan grace = default,
        Activation.ListenSocket? listen = null)
    {
        var shell = ShellPath;
        if (listen is not null)
        {
            shell = File.Exists(BashPath) ? BashPath : throw new InvalidOperationException($"socket activation needs {BashPath}, which is missing");
        }

        var start = new ProcessStartInfo(HasSetsid ? SetsidPath : shell)
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        if (HasSetsid)
        {
            start.ArgumentList.Add(shell);
        }

        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(listen is null ? Wrapper : ActivationWrapper);
        start.ArgumentList.Add("trellis-instance");
        start.ArgumentList.Add(logPath);
        if (listen is not null)
        {
            start.ArgumentList.Add(listen.Descriptor.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        start.ArgumentList.Add(executable);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // A socket-activated supervisor's own LISTEN_* describe its sockets, not the child's.
        start.Environment.Remove("LISTEN_PID");
        start.Environment.Remove("LISTEN_FDS");
        start.Environment.Remove("LISTEN_FDNAMES");
        foreach (var (key, value) in env)
        {
            start.Environment[key] = value;
        }

        Process process;
        lock (StartGate)
        {
            listen?.SetInheritable(true);
            try
            {
                process = Process.Start(start) ?? throw new InvalidOperationException($"'{executable}' did not start");
            }
            finally
            {
                listen?.SetInheritable(false);
            }
        }

        var child = new ChildProcess(process, HasSetsid);
        if (records is not null && HasSetsid)
        {
            // Recorded until its group is gone, so a supervisor that dies without stopping it has a successor that will.
            records.Add(child.Pid, what, grace);
            child.Exited.ContinueWith(_ => records.Remove(child.Pid), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return child;
    }

    /// <summary>Sends SIGTERM to the process group (or the process when it has none of its own).</summary>
    public void Terminate() => Signal(Signals.SigTerm);

    /// <summary>SIGKILLs the process group and every descendant .NET can find.</summary>
    public void Kill()
    {
        if (!process.HasExited)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited in between.
            }
        }

        Signal(Signals.SigKill);
    }

    /// <summary>
    /// SIGKILLs what is left of the group after the main process exited: a pod's containers die
    /// with their main process, and so do an instance's stray children. The group id cannot have
    /// been reused while any member is alive, so this reaches only our leftovers.
    /// </summary>
    public void KillLeftovers()
    {
        if (OwnGroup)
        {
            Signals.Send(-Pid, Signals.SigKill);
        }
    }

    public void Dispose() => process.Dispose();

    private void Signal(int signal)
    {
        if (OwnGroup)
        {
            Signals.Send(-Pid, signal);
        }
        else if (!process.HasExited)
        {
            Signals.Send(Pid, signal);
        }
    }
}

namespace Trellis.Runtime;

/// <summary>
/// One instance: keeps a process running (restart policy Always), probes its readiness and stops it
/// gracefully. Its loop is
/// (1) start the process, or record why it could not start;
/// (2) probe readiness until the process exits, at once when the process notifies READY=1;
/// (3) kill what the process left in its group;
/// (4) unless stopping, wait the crash backoff (phase CrashLoopBackOff) and go to 1.
/// All mutable state is guarded by <see cref="InstanceContext.Gate"/>.
/// </summary>
internal sealed class Instance : IDisposable
{
    private readonly InstanceContext context;
    private readonly CancellationTokenSource stopping = new();

    // Cancelled when a node-wide stop (Ctrl-C) comes in while the instance drains: no point waiting
    // for proxies to forget an instance when every proxy is going away too.
    private readonly CancellationTokenSource drainCut = new();

    private InstancePhase phase = InstancePhase.Pending;
    private bool ready;
    private int restarts;
    private DateTimeOffset? startedAt;
    private DateTimeOffset? readyAt;
    private int? lastExitCode;
    private string? message;
    private ChildProcess? child;
    private Task? run;
    private Task? stop;

    public Instance(InstanceContext context, string id, long sequence, WorkloadSpec spec, string revision, int port, IReadOnlyDictionary<string, int> ports)
    {
        this.context = context;
        Id = id;
        Sequence = sequence;
        Spec = spec;
        Revision = revision;
        Port = port;
        Ports = ports;
        LogPath = Path.Combine(context.Options.DataDirectory, "logs", id + ".log");
    }

    public string Id { get; }

    /// <summary>Creation order within the supervisor; scale-down removes the highest first.</summary>
    public long Sequence { get; }

    public WorkloadSpec Spec { get; }

    public string Revision { get; }

    public int Port { get; }

    public IReadOnlyDictionary<string, int> Ports { get; }

    public string LogPath { get; }

    /// <summary>True once a stop was requested; such an instance no longer counts as a replica. Read under the gate.</summary>
    public bool IsStopping => stop is not null;

    /// <summary>Read under the gate.</summary>
    public bool IsReady => ready;

    /// <summary>True when the instance was stopped on purpose and should disappear once exited.</summary>
    public bool RemoveWhenExited { get; private set; }

    /// <summary>Read under the gate.</summary>
    public bool HasExited => phase == InstancePhase.Exited;

    /// <summary>Must be called under the gate.</summary>
    public InstanceStatus Snapshot() => new(
        Id, Spec.Name, Spec.Namespace, Spec.Labels, phase, ready, child?.Pid, Port, Ports,
        restarts, startedAt, lastExitCode, message, LogPath)
    {
        ReadyAt = readyAt,
    };

    public void Start() => run = Task.Run(RunAsync);

    /// <summary>Called by the supervisor once the instance has exited and is forgotten.</summary>
    public void Dispose()
    {
        stopping.Dispose();
        drainCut.Dispose();
    }

    /// <summary>
    /// Stops the instance for good: SIGTERM to its process group, SIGKILL after the grace period.
    /// An instance that is removed while the node keeps running (<paramref name="remove"/>: scale-down,
    /// replacement, deletion) first drains: it turns not ready, so the registry takes it out of every
    /// endpoint set, and gets SIGTERM only after <see cref="SupervisorOptions.DrainDelay"/>, when no
    /// proxy sends it new requests any more (Knative's queue-proxy drain). Idempotent; a later call
    /// without <paramref name="remove"/> (node shutdown) cuts a drain short. Completes when the
    /// process is gone. May be called under the gate.
    /// </summary>
    public Task StopAsync(bool remove)
    {
        lock (context.Gate)
        {
            RemoveWhenExited |= remove;
            if (!remove)
            {
                drainCut.Cancel();
            }

            return stop ??= Task.Run(() => StopCoreAsync(drain: remove));
        }
    }

    private async Task StopCoreAsync(bool drain)
    {
        // Ends a backoff wait and the probe loop; a process, if any, is signalled below.
        await stopping.CancelAsync();
        ChildProcess? process;
        bool wasReady;
        lock (context.Gate)
        {
            process = child;
            wasReady = ready;
            if (process is not null)
            {
                phase = InstancePhase.Terminating;
                readyAt = ready ? context.Time.GetUtcNow() : readyAt;
                ready = false;
                message = "stopping";
            }
        }

        if (process is not null)
        {
            context.Changed(this);
            if (drain && wasReady && context.Options.DrainDelay > TimeSpan.Zero)
            {
                // Only a ready instance is in endpoint sets; one that never was needs no drain.
                context.Logger.InstanceDraining(Id, context.Options.DrainDelay);
                await Task.WhenAny(process.Exited, Task.Delay(context.Options.DrainDelay, context.Time, drainCut.Token));
            }

            context.Logger.InstanceStopping(Id, Spec.TerminationGracePeriod);
            process.Terminate();
            using var graceOver = new CancellationTokenSource();
            var grace = Task.Delay(Spec.TerminationGracePeriod, context.Time, graceOver.Token);
            if (await Task.WhenAny(process.Exited, grace) != process.Exited)
            {
                context.Logger.InstanceKilled(Id);
                process.Kill();
            }

            await graceOver.CancelAsync();
        }

        if (run is not null)
        {
            await run;
        }
    }

    private async Task RunAsync()
    {
        TimeSpan? backoff = null;
        while (true)
        {
            // One notification socket per start (Activation/NotifySocket.cs), closed when the process is gone.
            using var notify = Activation.NotifySocket.TryOpen();
            var (started, failure) = await StartProcessAsync(firstStart: backoff is null, notify);
            var startTime = context.Time.GetUtcNow();
            var stopRequested = false;
            lock (context.Gate)
            {
                child = started;
                stopRequested = stop is not null;
                if (started is not null)
                {
                    phase = stopRequested ? InstancePhase.Terminating : InstancePhase.Starting;
                    startedAt = startTime;
                    message = null;
                }
                else
                {
                    message = failure;
                    lastExitCode = null;
                }
            }

            var ranFor = TimeSpan.Zero;
            if (started is not null)
            {
                context.Logger.InstanceStarted(Id, started.Pid, Port, Spec.Command);
                if (stopRequested)
                {
                    // The stop came while the process was being started and found nothing to signal.
                    started.Kill();
                }

                context.Changed(this);
                await SuperviseAsync(started, notify?.Ready);
                ranFor = context.Time.GetUtcNow() - startTime;
            }
            else
            {
                context.Logger.InstanceStartFailed(Id, failure!);
            }

            lock (context.Gate)
            {
                if (stop is not null)
                {
                    phase = InstancePhase.Exited;
                    message = "stopped";
                    break;
                }

                backoff = CrashBackoff.Next(backoff, ranFor, context.Options.InitialBackoff, context.Options.MaxBackoff);
                phase = InstancePhase.CrashLoopBackOff;
                message ??= $"back-off {backoff} restarting exited process (exit code {lastExitCode})";
            }

            context.Logger.InstanceCrashed(Id, lastExitCode, backoff.Value, restarts);
            context.Changed(this);
            try
            {
                await Task.Delay(backoff.Value, context.Time, stopping.Token);
            }
            catch (OperationCanceledException)
            {
                lock (context.Gate)
                {
                    phase = InstancePhase.Exited;
                    message = "stopped";
                }

                break;
            }

            lock (context.Gate)
            {
                restarts++;
            }
        }

        context.Logger.InstanceStopped(Id, lastExitCode);
        context.Changed(this);
    }

    // Steps 2 and 3 of the loop.
    private async Task SuperviseAsync(ChildProcess process, Task? notice)
    {
        using var probing = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        var probe = ProbeAsync(process, notice, probing.Token);
        await process.Exited;
        await probing.CancelAsync();
        await probe;
        process.KillLeftovers();
        lock (context.Gate)
        {
            child = null;
            if (ready)
            {
                readyAt = context.Time.GetUtcNow();
            }

            ready = false;
            lastExitCode = process.ExitCode;
        }

        process.Dispose();
    }

    // Probes until cancelled. Between probes it waits the tracker's interval, or, until the first
    // READY=1 of this start (notice), only until that notification: the probe then runs at once, so a
    // process that notifies is ready within a probe's round trip of saying so, with no polling delay.
    // The notification wakes the probe rather than replacing it: the probe (TCP or the workload's own
    // HTTP check) still decides, and counts the same way.
    private async Task ProbeAsync(ChildProcess process, Task? notice, CancellationToken ct)
    {
        var probe = Spec.Readiness ?? ProbeSpec.DefaultTcp;
        var tracker = new ProbeTracker(probe);
        try
        {
            if (probe.InitialDelay > TimeSpan.Zero)
            {
                await Task.Delay(probe.InitialDelay, context.Time, ct);
            }

            while (true)
            {
                var success = await context.Prober.ProbeAsync(probe, Port, ct);
                ct.ThrowIfCancellationRequested();
                if (tracker.Record(success))
                {
                    lock (context.Gate)
                    {
                        if (child != process || stop is not null)
                        {
                            return;
                        }

                        ready = tracker.Ready;
                        readyAt = context.Time.GetUtcNow();
                        phase = ready ? InstancePhase.Ready : InstancePhase.Running;
                        message = ready ? null : "readiness probe failed";
                    }

                    if (tracker.Ready)
                    {
                        context.Logger.InstanceReady(Id);
                    }
                    else
                    {
                        context.Logger.InstanceNotReady(Id);
                    }

                    context.Changed(this);
                }

                if (notice is null || tracker.Ready)
                {
                    notice = null;
                    await Task.Delay(tracker.NextDelay, context.Time, ct);
                }
                else if (await DelayOrNoticeAsync(tracker.NextDelay, notice, ct))
                {
                    notice = null; // acted on once: a completed task would otherwise end every later wait at once
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The process exited or the instance is stopping.
        }
    }

    /// <summary>Waits <paramref name="delay"/> on the supervisor's clock; true when <paramref name="notice"/> completed first.</summary>
    private async Task<bool> DelayOrNoticeAsync(TimeSpan delay, Task notice, CancellationToken ct)
    {
        using var cut = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var elapsed = Task.Delay(delay, context.Time, cut.Token);
        var first = await Task.WhenAny(elapsed, notice);
        await cut.CancelAsync(); // the timer of a delay that lost
        ct.ThrowIfCancellationRequested();
        return first == notice;
    }

    // Step 1: the first start may take a pre-warmed pool host (Pool/WarmPool.cs); restarts, and
    // starts that do not qualify or find the pool empty, are plain process starts.
    private async Task<(ChildProcess? Process, string? Failure)> StartProcessAsync(bool firstStart, Activation.NotifySocket? notify)
    {
        try
        {
            var workingDirectory = Path.GetFullPath(Spec.WorkingDirectory ?? ".");
            if (!Directory.Exists(workingDirectory))
            {
                return (null, $"working directory '{workingDirectory}' does not exist");
            }

            var env = BuildEnvironment(notify);
            var path = env.TryGetValue("PATH", out var p) ? p : Environment.GetEnvironmentVariable("PATH");
            var executable = CommandResolver.Resolve(Spec.Command, workingDirectory, path);
            if (executable is null)
            {
                return (null, $"executable '{Spec.Command}' not found" + (Spec.Command.Contains('/', StringComparison.Ordinal) ? "" : " on PATH"));
            }

            Directory.CreateDirectory(Path.GetDirectoryName(LogPath)!);
            if (firstStart && Spec.Pool is not null && context.Pool is { } pool)
            {
                var (launch, reason) = Pool.PoolEligibility.Check(Spec, executable, workingDirectory, pool.Dotnet, Pool.WarmPool.RuntimeMajor);
                if (launch is null)
                {
                    context.Logger.PoolNotEligible(Id, reason!);
                }
                else if (await pool.TryTakeAsync(Id, launch, env, workingDirectory, Path.GetFullPath(LogPath)) is { } pooled)
                {
                    return (pooled, null);
                }
            }

            if (!Spec.SocketActivation)
            {
                return (ChildProcess.Start(executable, Spec.Args, workingDirectory, env, LogPath, context.Records, "instance " + Id, Spec.TerminationGracePeriod), null);
            }

            // The process holds the only copy once started: its exit frees the port.
            using var listen = Activation.ListenSocket.Open(context.Options.Host, Port);
            return (ChildProcess.Start(executable, Spec.Args, workingDirectory, env, LogPath, context.Records, "instance " + Id, Spec.TerminationGracePeriod, listen), null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A throwing ExtraEnv hook or a failed fork is the instance's problem, reported on it.
            return (null, e.Message);
        }
    }

    /// <summary>
    /// The process inherits the supervisor's environment, then gets, each overriding the previous:
    /// HOSTNAME = instance id (as a pod's hostname is its name), the workload's Env, PORT, and the
    /// ExtraEnv hook (the agent's word is final, e.g. HTTP_PROXY). NOTIFY_SOCKET comes with PORT: it names
    /// this start's notification socket, whatever the workload or the agent's own environment said.
    /// </summary>
    private Dictionary<string, string> BuildEnvironment(Activation.NotifySocket? notify)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["HOSTNAME"] = Id };
        foreach (var (key, value) in Spec.Env)
        {
            env[key] = value;
        }

        env["PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (notify is not null)
        {
            env[Activation.NotifySocket.Variable] = notify.Address;
        }
        if (context.ExtraEnv is { } hook)
        {
            foreach (var (key, value) in hook(Spec, Ports))
            {
                env[key] = value;
            }
        }

        return env;
    }
}

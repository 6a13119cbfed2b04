using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Trellis.Runtime.Pool;

/// <summary>
/// Keeps <see cref="SupervisorOptions.PoolSize"/> warm, idle <c>trellis-poolhost</c> processes, as
/// Fission's pool manager keeps generic pods: a scale from zero then pays for a connect and the
/// function's own start instead of process start, runtime start and JIT of ASP.NET Core.
/// <list type="number">
/// <item>Wait: nothing is started until a workload opts in (<see cref="Want"/>), so a node that runs
/// no pooled function pays nothing for the pool; from then on it stays filled.</item>
/// <item>Fill: one host at a time (warm-ups compete for the same cores as the instances), each
/// started like an instance (own process group, output to <c>pool/&lt;id&gt;.log</c>), idle once its
/// control socket accepts a connection.</item>
/// <item>Take: the first idle host gets the specialize request; its answer decides whether the
/// instance runs in it or, after the host is killed, as a plain process.</item>
/// <item>Refill: after <see cref="SupervisorOptions.PoolRefillDelay"/>, so a replacement's warm-up does
/// not slow the start that just took a host; a host that dies idle is replaced the same way;
/// failing warm-ups back off (1 s doubling to a minute).</item>
/// <item>Dispose: idle and warming hosts are SIGKILLed (they run nothing of anybody's).</item>
/// </list>
/// Pool hosts are not instances: they appear in no snapshot, registry or endpoint set.
/// </summary>
internal sealed class WarmPool : IAsyncDisposable
{
    private const int MaxSocketPath = 100; // sun_path holds 108 bytes with the terminating NUL
    private static readonly TimeSpan WarmupLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ConnectInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan SpecializeLimit = TimeSpan.FromSeconds(5);
    private static readonly Dictionary<string, string> NoEnv = [];

    private readonly SupervisorOptions options;
    private readonly string hostAssembly;
    private readonly string directory;
    private readonly bool ownsDirectory;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private Records.ProcessRecords? records;
    private readonly Lock gate = new();
    private readonly List<PooledHost> idle = [];
    private readonly Channel<bool> wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource closing = new();
    private DateTimeOffset lastTake = DateTimeOffset.MinValue;
    private volatile bool wanted;
    private Task? filler;

    private WarmPool(SupervisorOptions options, string hostAssembly, string dotnet, string directory, bool ownsDirectory, ILogger logger, TimeProvider time)
    {
        this.options = options;
        this.hostAssembly = hostAssembly;
        Dotnet = dotnet;
        this.directory = directory;
        this.ownsDirectory = ownsDirectory;
        this.logger = logger;
        this.time = time;
    }

    /// <summary>The dotnet executable the hosts run on; only commands that resolve to it qualify.</summary>
    public string Dotnet { get; }

    /// <summary>The hosts' runtime major version (the agent's own: the same dotnet runs both).</summary>
    public static int RuntimeMajor => Environment.Version.Major;

    /// <summary>Idle hosts now (tests).</summary>
    public IReadOnlyList<int> IdlePids
    {
        get
        {
            lock (gate)
            {
                return idle.Select(h => h.Process.Pid).ToArray();
            }
        }
    }

    /// <summary>A started pool, or null when it is off (size 0) or cannot work here (logged).</summary>
    public static WarmPool? Start(SupervisorOptions options, ILogger logger, TimeProvider time, Records.ProcessRecords? records = null)
    {
        if (options.PoolSize <= 0)
        {
            return null;
        }

        if (OperatingSystem.IsWindows())
        {
            logger.PoolUnavailable("pool hosts use Unix sockets and process groups");
            return null;
        }

        if (options.PoolHostPath is not { } host || !File.Exists(host))
        {
            logger.PoolUnavailable($"the pool host '{options.PoolHostPath}' does not exist");
            return null;
        }

        var dotnet = CommandResolver.Resolve("dotnet", Environment.CurrentDirectory, Environment.GetEnvironmentVariable("PATH"));
        if (dotnet is null)
        {
            logger.PoolUnavailable("no 'dotnet' on PATH");
            return null;
        }

        var directory = Path.Combine(Path.GetFullPath(options.DataDirectory), "pool");
        var ownsDirectory = false;
        if (Path.Combine(directory, "12345678.sock").Length > MaxSocketPath)
        {
            // A deep data directory: sockets go to a private temp directory (mode 0700) instead.
            directory = Directory.CreateTempSubdirectory("trellis-pool-").FullName;
            ownsDirectory = true;
        }

        // Whoever can connect to a host's socket can run code as the agent's user: owner only.
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var pool = new WarmPool(options, Path.GetFullPath(host), dotnet, directory, ownsDirectory, logger, time) { records = records };
        pool.filler = Task.Run(pool.FillAsync);
        return pool;
    }

    /// <summary>Starts filling the pool (once a desired workload opts in); idempotent.</summary>
    public void Want()
    {
        if (!wanted)
        {
            wanted = true;
            wake.Writer.TryWrite(true);
        }
    }

    /// <summary>
    /// Runs the instance in an idle host: its process from now on, or null (pool empty, or the host
    /// refused or failed; then it is killed) and the caller starts a plain process.
    /// </summary>
    public async Task<ChildProcess?> TryTakeAsync(string instance, PoolLaunch launch, IReadOnlyDictionary<string, string> env, string workingDirectory, string logPath)
    {
        PooledHost? host = null;
        lock (gate)
        {
            if (idle.Count > 0)
            {
                host = idle[0];
                idle.RemoveAt(0);
            }

            lastTake = time.GetUtcNow();
        }

        wake.Writer.TryWrite(true);
        if (host is null)
        {
            logger.PoolEmpty(instance);
            return null;
        }

        string? failure;
        using (var limit = new CancellationTokenSource(SpecializeLimit, time))
        {
            try
            {
                failure = await host.SpecializeAsync(launch, env, workingDirectory, logPath, limit.Token);
            }
            catch (OperationCanceledException)
            {
                failure = $"no answer within {SpecializeLimit.TotalSeconds:0} s";
            }
        }

        if (failure is null)
        {
            TryDelete(host.LogPath);
            logger.PoolHostTaken(host.Id, host.Process.Pid, instance);
            return host.Process;
        }

        logger.PoolSpecializeFailed(host.Id, instance, failure, host.LogPath);
        host.Process.Kill();
        await host.Process.Exited;
        host.Process.Dispose();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await closing.CancelAsync();
        if (filler is not null)
        {
            await filler;
        }

        PooledHost[] hosts;
        lock (gate)
        {
            hosts = idle.ToArray();
            idle.Clear();
        }

        foreach (var host in hosts)
        {
            host.CloseControl();
            host.Process.Kill();
        }

        await Task.WhenAll(hosts.Select(h => h.Process.Exited));
        foreach (var host in hosts)
        {
            host.Process.Dispose();
            TryDelete(host.LogPath);
            TryDelete(host.SocketPath);
        }

        if (ownsDirectory)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        closing.Dispose();
    }

    private async Task FillAsync()
    {
        var failures = 0;
        try
        {
            while (true)
            {
                int count;
                lock (gate)
                {
                    count = idle.Count;
                }

                if (!wanted || count >= options.PoolSize)
                {
                    await wake.Reader.ReadAsync(closing.Token);
                    continue;
                }

                var wait = lastTake + options.PoolRefillDelay - time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, time, closing.Token);
                }

                if (await StartHostAsync(closing.Token))
                {
                    failures = 0;
                    continue;
                }

                failures++;
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, failures - 1))), time, closing.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    // Starts one host and waits until it is warm (its socket accepts), then makes it idle.
    private async Task<bool> StartHostAsync(CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("n")[..8];
        var socketPath = Path.Combine(directory, id + ".sock");
        var logPath = Path.Combine(directory, id + ".log");
        ChildProcess process;
        try
        {
            process = ChildProcess.Start(Dotnet, [hostAssembly, "--socket", socketPath], directory, NoEnv, logPath, records, "pool host " + id, TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.PoolHostFailed(id, e.Message, logPath);
            return false;
        }

        var host = new PooledHost(id, process, socketPath, logPath);
        var started = time.GetTimestamp();
        try
        {
            while (!await host.TryConnectAsync(ct))
            {
                if (process.Exited.IsCompleted || time.GetElapsedTime(started) > WarmupLimit)
                {
                    var why = process.Exited.IsCompleted ? $"exited with code {process.ExitCode} while warming up" : $"not warm after {WarmupLimit.TotalSeconds:0} s";
                    logger.PoolHostFailed(id, why, logPath);
                    Discard(host);
                    return false;
                }

                await Task.Delay(ConnectInterval, time, ct);
            }
        }
        catch (OperationCanceledException)
        {
            Discard(host);
            throw;
        }

        lock (gate)
        {
            idle.Add(host);
        }

        logger.PoolHostReady(id, process.Pid, time.GetElapsedTime(started));
        _ = WatchIdleAsync(host);
        return true;
    }

    // A host that exits while idle (killed by someone, out of memory) is dropped and replaced.
    private async Task WatchIdleAsync(PooledHost host)
    {
        await host.Process.Exited;
        bool wasIdle;
        lock (gate)
        {
            wasIdle = idle.Remove(host);
        }

        if (!wasIdle)
        {
            return; // taken by an instance, or the pool is being disposed
        }

        logger.PoolHostDied(host.Id, host.Process.ExitCode, host.LogPath);
        host.CloseControl();
        host.Process.KillLeftovers();
        host.Process.Dispose();
        TryDelete(host.SocketPath);
        wake.Writer.TryWrite(true);
    }

    private static void Discard(PooledHost host)
    {
        host.CloseControl();
        host.Process.Kill();
        host.Process.Exited.Wait(TimeSpan.FromSeconds(5));
        host.Process.Dispose();
        TryDelete(host.SocketPath);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

using Microsoft.Extensions.Logging.Abstractions;

namespace Trellis.Runtime.Tests;

/// <summary>
/// A supervisor over a temporary data directory. Disposing it stops every instance and, should a
/// test have left one behind (a failed assertion, a stuck fake clock), SIGKILLs the process groups
/// it saw, so no test leaks processes.
/// </summary>
internal sealed class Harness : IAsyncDisposable
{
    private readonly HashSet<int> pids = [];

    public Harness(TimeProvider? time = null, TimeSpan? initialBackoff = null, Random? random = null, TimeSpan? drainDelay = null, int poolSize = 0, TimeSpan? poolRefillDelay = null)
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "trellis-runtime-tests", Guid.NewGuid().ToString("n"));
        Options = new SupervisorOptions
        {
            DataDirectory = DataDirectory,
            InitialBackoff = initialBackoff ?? TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromSeconds(4),
            DrainDelay = drainDelay ?? TimeSpan.Zero,
            PoolSize = poolSize,
            PoolHostPath = poolSize > 0 ? PoolTestPaths.PoolHost : null,
            PoolRefillDelay = poolRefillDelay ?? TimeSpan.Zero,
        };
        Supervisor = new Supervisor(Options, NullLoggerFactory.Instance, time ?? TimeProvider.System, random ?? new Random(7));
        Supervisor.Changed += Track;
    }

    public string DataDirectory { get; }

    public SupervisorOptions Options { get; }

    public Supervisor Supervisor { get; }

    public static WorkloadSpec Shell(string name, string script, int replicas = 1, IReadOnlyDictionary<string, string>? env = null, ProbeSpec? readiness = null, double graceSeconds = 5) =>
        new(name, "default", new Dictionary<string, string> { ["app"] = name }, replicas, "/bin/sh", ["-c", script],
            env ?? new Dictionary<string, string>(), null, readiness, TimeSpan.FromSeconds(graceSeconds), []);

    /// <summary>Polls the instances (real time) until <paramref name="condition"/> holds.</summary>
    public async Task<IReadOnlyList<InstanceStatus>> WaitAsync(Func<IReadOnlyList<InstanceStatus>, bool> condition, double seconds = 10, string? what = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var instances = Supervisor.Instances;
            Track(instances);
            if (condition(instances))
            {
                return instances;
            }

            if (DateTime.UtcNow > deadline)
            {
                var state = string.Join("; ", instances.Select(i => $"{i.Id} {i.Phase} ready={i.Ready} restarts={i.Restarts} exit={i.LastExitCode} msg={i.Message}"));
                throw new TimeoutException($"Timed out waiting for {what ?? "condition"}; instances: {state}");
            }

            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var stop = Supervisor.DisposeAsync().AsTask();
        if (await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(10))) != stop)
        {
            // The supervisor could not stop (e.g. its grace timer runs on a fake clock): do it by hand.
            lock (pids)
            {
                foreach (var pid in pids)
                {
                    Signals.Send(-pid, Signals.SigKill);
                }
            }
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Track(IReadOnlyList<InstanceStatus> instances)
    {
        lock (pids)
        {
            foreach (var instance in instances)
            {
                if (instance.Pid is { } pid)
                {
                    pids.Add(pid);
                }
            }
        }
    }
}

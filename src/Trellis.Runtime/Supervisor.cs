using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Trellis.Runtime;

/// <summary>
/// Runs the workloads of one node as local processes and converges them to a desired state, as the
/// kubelet and the Deployment controller do together: it starts, scales, replaces (on a revision
/// change) and stops instances, restarts crashed ones with backoff and tracks their readiness.
/// </summary>
public sealed class Supervisor : IAsyncDisposable
{
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    private readonly InstanceContext context;
    private readonly ReadinessProber prober;
    private readonly PortAllocator portAllocator;
    private readonly Random random;
    private readonly ILogger logger;
    private readonly Records.ProcessRecords records;
    private readonly TimeProvider time;
    private readonly List<Instance> instances = [];
    private readonly Channel<bool> changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Task notifier;
    private Dictionary<(string Namespace, string Name), (WorkloadSpec Spec, string Revision)> desired = [];
    private long nextSequence;
    private bool disposed;

    /// <summary>Creates a supervisor; nothing runs until <see cref="Reconcile"/>.</summary>
    public Supervisor(SupervisorOptions options, ILoggerFactory loggers, TimeProvider? time = null)
        : this(options, loggers, time ?? TimeProvider.System, Random.Shared)
    {
    }

    internal Supervisor(SupervisorOptions options, ILoggerFactory loggers, TimeProvider time, Random random)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        Directory.CreateDirectory(Path.Combine(options.DataDirectory, "logs"));
        logger = loggers.CreateLogger<Supervisor>();
        prober = new ReadinessProber(options.Host, time);
        portAllocator = new PortAllocator(options.Host);
        this.random = random;
        records = new Records.ProcessRecords(options.DataDirectory);
        this.time = time;
        context = new InstanceContext(options, time, logger, prober, () => ExtraEnv, OnInstanceChanged)
        {
            Records = records,
            Pool = Pool.WarmPool.Start(options, logger, time, records),
        };
        notifier = Task.Run(NotifyAsync);
    }

    /// <summary>Raised after instance state changes, with a snapshot of all instances. Bursts of
    /// changes may be reported once; handlers run one at a time on a pool thread.</summary>
    public event Action<IReadOnlyList<InstanceStatus>>? Changed;

    /// <summary>
    /// Environment added to each instance after the workload's Env and PORT, computed before every
    /// start from the workload and its extra ports (by name, as in <see cref="InstanceStatus.Ports"/>).
    /// Lets the agent point HTTP_PROXY at the instance's outbound port. Set it before the first
    /// <see cref="Reconcile"/>. An exception from it fails that start (the instance backs off and retries).
    /// </summary>
    public Func<WorkloadSpec, IReadOnlyDictionary<string, int>, IReadOnlyDictionary<string, string>>? ExtraEnv { get; set; }

    /// <summary>A snapshot of all instances, in creation order. Instances stopped by
    /// <see cref="StopAllAsync"/> stay listed as Exited until the next <see cref="Reconcile"/>.</summary>
    public IReadOnlyList<InstanceStatus> Instances
    {
        get
        {
            lock (context.Gate)
            {
                return instances.Select(i => i.Snapshot()).ToArray();
            }
        }
    }

    /// <summary>
    /// Stops what a previous supervisor on this data directory left running (it was killed, or the
    /// host's agent crashed): every recorded process group gets SIGTERM, then SIGKILL after its grace
    /// period (at most <paramref name="maxGrace"/>). Call before the first <see cref="Reconcile"/>,
    /// so a restarted agent never runs a second copy beside the first. Returns what it stopped.
    /// </summary>
    public async Task<IReadOnlyList<string>> ReapPreviousAsync(TimeSpan maxGrace, CancellationToken cancellationToken = default)
    {
        var reaped = await records.ReapAsync(maxGrace, time, cancellationToken);
        foreach (var entry in reaped)
        {
            logger.PreviousProcessReaped(entry.Pid, entry.What);
        }

        return reaped.Select(e => e.What).ToList();
    }

    /// <summary>Pids of the idle pre-warmed hosts (tests); empty when the pool is off.</summary>
    internal IReadOnlyList<int> IdlePoolHosts => context.Pool?.IdlePids ?? [];

    /// <summary>
    /// Sets the desired state of the whole node and starts converging to it: workloads missing from
    /// <paramref name="desired"/> are stopped, replica counts are met (scale-down stops the newest
    /// first), and instances of an older revision are stopped as instances of the new revision become
    /// ready. Idempotent. An invalid list throws <see cref="ArgumentException"/> naming every
    /// problem, and changes nothing.
    /// </summary>
    public void Reconcile(IReadOnlyList<WorkloadSpec> desired)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ObjectDisposedException.ThrowIf(disposed, this);
        var errors = WorkloadValidator.Validate(desired);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid workloads:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(desired));
        }

        var next = desired.ToDictionary(s => (s.Namespace, s.Name), s => (s, s.Revision));
        if (desired.Any(s => s.Pool is not null))
        {
            context.Pool?.Want();
        }

        lock (context.Gate)
        {
            this.desired = next;
            // Instances left Exited by StopAllAsync have been reported; a new desired state drops them.
            RemoveWhere(i => i.HasExited);
            Converge();
        }

        Signal();
    }

    /// <summary>
    /// Stops every instance gracefully (SIGTERM, then SIGKILL after each workload's grace period) and
    /// forgets the desired state; used on Ctrl-C. Completes when all processes are gone.
    /// </summary>
    public Task StopAllAsync()
    {
        Task[] stopping;
        lock (context.Gate)
        {
            desired = [];
            stopping = instances.Select(i => i.StopAsync(remove: false)).ToArray();
        }

        return Task.WhenAll(stopping);
    }

    /// <summary>Stops all instances (see <see cref="StopAllAsync"/>) and releases resources.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        await StopAllAsync();
        lock (context.Gate)
        {
            RemoveWhere(_ => true);
        }

        changes.Writer.TryComplete();
        await notifier;
        if (context.Pool is { } pool)
        {
            await pool.DisposeAsync();
        }

        prober.Dispose();
    }

    // Under the gate. Decides per workload what to start and stop; instances act asynchronously and
    // call back through OnInstanceChanged, which converges again (a rollout advances that way).
    private void Converge()
    {
        var keys = desired.Keys.Concat(instances.Select(i => (i.Spec.Namespace, i.Spec.Name))).Distinct().ToArray();
        foreach (var key in keys)
        {
            var live = instances.Where(i => (i.Spec.Namespace, i.Spec.Name) == key && !i.IsStopping).ToList();
            if (!desired.TryGetValue(key, out var want))
            {
                foreach (var instance in live)
                {
                    Stop(instance, "workload removed");
                }

                continue;
            }

            var current = live.Where(i => i.Revision == want.Revision).ToList();
            var old = live.Where(i => i.Revision != want.Revision).ToList();
            while (current.Count < want.Spec.Replicas)
            {
                current.Add(Create(want.Spec, want.Revision));
            }

            foreach (var extra in current.OrderByDescending(i => i.Sequence).Take(current.Count - want.Spec.Replicas).ToArray())
            {
                Stop(extra, "scaled down");
                current.Remove(extra);
            }

            // Rolling replacement with 100% surge: an old instance stays until a new one is ready to
            // take its place, so a rollout never drops capacity and a broken revision never takes
            // the working one down (it stalls, as a Deployment's rollout does).
            var keepOld = Math.Max(0, want.Spec.Replicas - current.Count(i => i.IsReady));
            var retire = old.OrderBy(i => i.IsReady).ThenByDescending(i => i.Sequence).Take(old.Count - keepOld);
            foreach (var instance in retire)
            {
                Stop(instance, "replaced by revision " + want.Revision);
            }
        }
    }

    private Instance Create(WorkloadSpec spec, string revision)
    {
        var port = portAllocator.Allocate();
        var ports = spec.ExtraPortNames.ToDictionary(n => n, _ => portAllocator.Allocate(), StringComparer.Ordinal);
        var instance = new Instance(context, NewId(spec.Name), nextSequence++, spec, revision, port, ports);
        logger.InstanceCreated(spec.Namespace, spec.Name, instance.Id, revision);
        instances.Add(instance);
        instance.Start();
        return instance;
    }

    private void Stop(Instance instance, string reason)
    {
        logger.InstanceRemoving(instance.Spec.Namespace, instance.Spec.Name, instance.Id, reason);
        _ = instance.StopAsync(remove: true);
    }

    // Pod names are "<deployment>-<5 chars>"; ids must also be unique among current instances
    // because they name the log files.
    private string NewId(string workload)
    {
        while (true)
        {
            var suffix = string.Create(5, random, (chars, r) =>
            {
                for (var i = 0; i < chars.Length; i++)
                {
                    chars[i] = IdAlphabet[r.Next(IdAlphabet.Length)];
                }
            });
            var id = workload + "-" + suffix;
            if (!instances.Any(i => i.Id == id))
            {
                return id;
            }
        }
    }

    private void RemoveWhere(Func<Instance, bool> predicate)
    {
        foreach (var instance in instances.Where(predicate).ToArray())
        {
            instances.Remove(instance);
            instance.Dispose();
            portAllocator.Release(instance.Port);
            foreach (var port in instance.Ports.Values)
            {
                portAllocator.Release(port);
            }
        }
    }

    private void OnInstanceChanged(Instance instance)
    {
        lock (context.Gate)
        {
            RemoveWhere(i => i.HasExited && i.RemoveWhenExited);
            Converge();
        }

        Signal();
    }

    private void Signal() => changes.Writer.TryWrite(true);

    // One reader drains the change signals, so handlers never run concurrently and a burst of
    // changes is reported with the latest snapshot.
    private async Task NotifyAsync()
    {
        await foreach (var _ in changes.Reader.ReadAllAsync())
        {
            try
            {
                Changed?.Invoke(Instances);
            }
            catch (Exception e)
            {
                logger.ChangedHandlerFailed(e);
            }
        }
    }
}

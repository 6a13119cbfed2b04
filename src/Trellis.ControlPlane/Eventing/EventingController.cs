using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Trellis.Api;
using Trellis.Api.Eventing;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;
using Trellis.Eventing.Delivery;
using Trellis.Eventing.Filtering;
using Trellis.Eventing.Sources;
using Trellis.Eventing.Storage;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// Knative eventing in the control plane. Every tick it opens a log for each Broker and records the
/// Broker's address and conditions; for each Trigger it resolves the broker, the filter, the
/// subscriber and the dead-letter sink, runs one <see cref="TriggerDispatcher"/> with the result and
/// records the Trigger's conditions and delivery counters; it runs the PingSources and the
/// SinkBindings (<see cref="SinkBindingReconciler"/>). Deleted Brokers lose their log; deleted
/// Triggers their dispatcher and position.
/// </summary>
public sealed partial class EventingController : IAsyncDisposable
{
    private const string Eventing = ResourceKinds.KnativeEventing;
    private const int DefaultInFlight = 64;
    private const int MaxInFlight = 1000;

    private readonly IResourceStore _store;
    private readonly ServiceRegistry _registry;
    private readonly IEventStore _events;
    private readonly IEventSender _sender;
    private readonly DestinationResolver _resolver;
    private readonly SinkBindingReconciler _bindings;
    private readonly Uri _ingress;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Dictionary<(string Ns, string Name), IEventLog> _brokers = [];
    private readonly Dictionary<(string Ns, string Name), (TriggerDispatcher Dispatcher, (string, string) Broker, string Consumer)> _dispatchers = [];
    private readonly Dictionary<(string Ns, string Name), PingRunner> _pings = [];
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private volatile IReadOnlyDictionary<(string, string), IEventLog> _ready = new Dictionary<(string, string), IEventLog>();
    private volatile HashSet<(string, string)> _known = [];
    private readonly Func<bool> _leads;

    /// <param name="leads">
    /// Whether this replica runs the Triggers and PingSources and writes their status. Always, with the
    /// embedded store (each replica delivers the events it took); with a store the replicas share
    /// (JetStream), only the leader, so an event is not delivered once per replica.
    /// </param>
    internal EventingController(IResourceStore store, ServiceRegistry registry, IEventStore events, IEventSender sender, EventingOptions options, Uri ingress, TimeProvider time, ILogger log, Func<bool>? leads = null)
    {
        _leads = leads ?? (() => true);
        _store = store;
        _registry = registry;
        _events = events;
        _sender = sender;
        _ingress = ingress;
        _time = time;
        _log = log;
        _resolver = new DestinationResolver(options, ingress, options.TrustDomain);
        _bindings = new SinkBindingReconciler(store, _resolver, log);
        _loop = RunAsync(options.Tick);
    }

    /// <summary>The log of a Broker that is ready to take events, or null.</summary>
    internal IEventLog? BrokerLog(string ns, string name) => _ready.GetValueOrDefault((ns, name));

    internal bool BrokerExists(string ns, string name) => _known.Contains((ns, name));

    /// <summary>Whether a Knative Service of that name exists (what an async call may name).</summary>
    internal bool FunctionExists(string ns, string name) => _store.Snapshot.Get(new ResourceKey(ResourceKinds.KnativeServing, "Service", ns, name)) is not null;

    public static string AddressOf(Uri ingress, string ns, string name) => new Uri(ingress, $"{ns}/{name}").ToString();

    public async Task ReconcileOnceAsync(CancellationToken cancellationToken = default)
    {
        await _pass.WaitAsync(cancellationToken);
        try
        {
            await ReconcileAsync(cancellationToken);
        }
        finally
        {
            _pass.Release();
        }
    }

    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var snapshot = _store.Snapshot;
        var instances = _registry.Instances;
        var ops = new List<StoreOperation>();
        var brokers = snapshot.List(Eventing, "Broker").Select(s => s.Resource).ToList();
        var triggers = snapshot.List(Eventing, "Trigger").Select(s => s.Resource).ToList();
        _known = brokers.Select(b => (b.Key.Namespace, b.Metadata.Name)).ToHashSet();

        foreach (var broker in brokers)
        {
            var key = (broker.Key.Namespace, broker.Metadata.Name);
            if (!_brokers.ContainsKey(key))
            {
                _brokers[key] = await _events.OpenAsync(LogName(key), cancellationToken);
            }

            ops.Add(new PutOperation(broker with { Status = BrokerStatus(broker, snapshot, instances) }));
        }

        _ready = new Dictionary<(string, string), IEventLog>(_brokers);
        if (!_leads())
        {
            // Another replica delivers and writes status; this one only takes events into the shared store.
            foreach (var key in _dispatchers.Keys.ToList())
            {
                await StopAsync(key, removeConsumer: false);
            }

            foreach (var key in _pings.Keys.ToList())
            {
                await StopPingAsync(key);
            }

            return;
        }

        foreach (var trigger in triggers)
        {
            var status = await ReconcileTriggerAsync(trigger, brokers, snapshot, instances, cancellationToken);
            ops.Add(new PutOperation(trigger with { Status = status }));
        }

        var pings = snapshot.List(ResourceKinds.KnativeSources, "PingSource").Select(s => s.Resource).ToList();
        foreach (var ping in pings)
        {
            ops.Add(new PutOperation(ping with { Status = await ReconcilePingAsync(ping, snapshot, instances) }));
        }

        foreach (var gone in _pings.Keys.Except(pings.Select(p => (p.Key.Namespace, p.Metadata.Name))).ToList())
        {
            await StopPingAsync(gone);
        }

        await _bindings.ReconcileAsync(snapshot, instances, cancellationToken);
        await RemoveGoneAsync(brokers, triggers, cancellationToken);
        foreach (var op in ops)
        {
            var result = await _store.WriteAsync([op], cancellationToken);
            if (!result.Succeeded)
            {
                LogWriteFailed(_log, op.Key.ToString(), result.Message ?? result.Error.ToString());
            }
        }
    }

    private JsonObject BrokerStatus(Resource broker, StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances)
    {
        var spec = broker.GetSpec<BrokerSpec>();
        var conditions = new List<Condition> { Condition.Ok("IngressReady"), Condition.Ok("Addressable") };
        var status = new JsonObject { ["address"] = new JsonObject { ["url"] = AddressOf(_ingress, broker.Key.Namespace, broker.Metadata.Name) } };
        if (spec.Delivery?.DeadLetterSink is { } sink)
        {
            var (target, error) = _resolver.Resolve(sink, broker.Key.Namespace, snapshot, instances);
            conditions.Add(target is null ? Condition.Failed("DeadLetterSinkResolved", "Unresolved", error!) : Condition.Ok("DeadLetterSinkResolved"));
            if (target is not null)
            {
                status["deadLetterSinkUri"] = target.Logical.ToString();
            }
        }

        return WithConditions(status, conditions, broker.Metadata.Generation);
    }

    private async Task<JsonObject> ReconcileTriggerAsync(Resource trigger, List<Resource> brokers, StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances, CancellationToken cancellationToken)
    {
        var key = (trigger.Key.Namespace, trigger.Metadata.Name);
        var spec = trigger.GetSpec<TriggerSpec>();
        var brokerKey = (trigger.Key.Namespace, spec.Broker);
        var broker = brokers.FirstOrDefault(b => b.Metadata.Name == spec.Broker && b.Key.Namespace == trigger.Key.Namespace);
        var status = new JsonObject();
        var conditions = new List<Condition>();
        if (broker is null)
        {
            conditions.Add(Condition.Failed("BrokerReady", "BrokerDoesNotExist", $"Broker {spec.Broker} does not exist"));
        }
        else
        {
            conditions.Add(Condition.Ok("BrokerReady"));
        }

        var (filter, filterErrors) = EventFilter.Compile(spec);
        if (filter is null)
        {
            conditions.Add(Condition.Failed("SubscriptionReady", "InvalidFilter", string.Join("; ", filterErrors)));
        }

        var (subscriber, subscriberError) = _resolver.Resolve(spec.Subscriber, trigger.Key.Namespace, snapshot, instances);
        conditions.Add(subscriber is null ? Condition.Failed("SubscriberResolved", "Unresolved", subscriberError!) : Condition.Ok("SubscriberResolved"));
        if (subscriber is not null)
        {
            status["subscriberUri"] = subscriber.Logical.ToString();
        }

        var brokerDelivery = broker?.GetSpec<BrokerSpec>().Delivery;
        var policy = DeliveryPolicy.From(spec.Delivery, brokerDelivery);
        DeliveryTarget? deadLetter = null;
        if (policy.DeadLetterSink is { } sink)
        {
            (deadLetter, var error) = _resolver.Resolve(sink, trigger.Key.Namespace, snapshot, instances);
            conditions.Add(deadLetter is null ? Condition.Failed("DeadLetterSinkResolved", "Unresolved", error!) : Condition.Ok("DeadLetterSinkResolved"));
            if (deadLetter is not null)
            {
                status["deadLetterSinkUri"] = deadLetter.Logical.ToString();
            }
        }

        var blocked = broker is null || filter is null || subscriber is null || (policy.DeadLetterSink is not null && deadLetter is null);
        if (blocked)
        {
            await StopAsync(key, removeConsumer: false);
        }
        else
        {
            var consumer = $"trigger/{trigger.Metadata.Uid ?? trigger.Metadata.Name}";
            var route = new TriggerRoute(consumer, filter!, subscriber!, deadLetter, policy, InFlightLimit(spec.Subscriber, trigger.Key.Namespace, snapshot, instances));
            if (_dispatchers.TryGetValue(key, out var running) && running.Broker == brokerKey && running.Consumer == consumer)
            {
                running.Dispatcher.Update(route);
            }
            else
            {
                await StopAsync(key, removeConsumer: false);
                var dispatcher = new TriggerDispatcher(_brokers[brokerKey], route, _sender, _time);
                _dispatchers[key] = (dispatcher, brokerKey, consumer);
            }

            conditions.Add(Condition.Ok("SubscriptionReady"));
            var counters = _dispatchers[key].Dispatcher.Counters;
            status["delivery"] = new JsonObject
            {
                ["delivered"] = counters.Delivered,
                ["retried"] = counters.Retried,
                ["deadLettered"] = counters.DeadLettered,
                ["dropped"] = counters.Dropped,
                ["replies"] = counters.Replies,
            };
        }

        return WithConditions(status, conditions, trigger.Metadata.Generation);
    }

    /// <summary>
    /// A PingSource runs while its schedule parses and its sink resolves; its status has Knative's
    /// <c>SinkProvided</c> and <c>Deployed</c> conditions, <c>sinkUri</c>, and how many events it sent.
    /// </summary>
    private async Task<JsonObject> ReconcilePingAsync(Resource ping, StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances)
    {
        var key = (ping.Key.Namespace, ping.Metadata.Name);
        var spec = ping.GetSpec<PingSourceSpec>();
        var status = new JsonObject();
        var conditions = new List<Condition>();
        var (sink, sinkError) = _resolver.Resolve(spec.Sink, ping.Key.Namespace, snapshot, instances);
        conditions.Add(sink is null ? Condition.Failed("SinkProvided", "NotFound", sinkError!) : Condition.Ok("SinkProvided"));
        var (schedule, scheduleError) = PingSchedule.Parse(spec.Schedule, spec.Timezone);
        conditions.Add(schedule is null ? Condition.Failed("Deployed", "InvalidSchedule", scheduleError!) : Condition.Ok("Deployed"));
        if (sink is null || schedule is null)
        {
            await StopPingAsync(key);
            return WithConditions(status, conditions, ping.Metadata.Generation);
        }

        status["sinkUri"] = sink.Logical.ToString();
        var target = new PingTarget(ping.Key.Namespace, ping.Metadata.Name, spec, schedule, sink);
        if (_pings.TryGetValue(key, out var runner))
        {
            // The stored spec is one immutable object until the PingSource changes.
            if (!ReferenceEquals(runner.Target.Spec, spec) || runner.Target.Sink != sink)
            {
                runner.Update(target);
            }
        }
        else
        {
            _pings[key] = runner = new PingRunner(target, _sender, _time);
        }

        status["sent"] = runner.Sent;
        status["failed"] = runner.Failed;
        if (runner.LastError is { } error)
        {
            status["lastError"] = error;
        }

        return WithConditions(status, conditions, ping.Metadata.Generation);
    }

    private async Task StopPingAsync((string, string) key)
    {
        if (_pings.Remove(key, out var runner))
        {
            await runner.DisposeAsync();
        }
    }

    /// <summary>
    /// A Knative Service subscriber gets at most containerConcurrency events per ready instance (one
    /// while it is at zero): the autoscaler sees that load and adds instances, and the limit grows
    /// with them. Others (and containerConcurrency 0, unlimited) get a fixed window.
    /// </summary>
    private static int InFlightLimit(EventDestination subscriber, string ns, StoreSnapshot snapshot, IReadOnlyList<WorkloadInstance> instances)
    {
        if (subscriber.Ref is not { Kind: "Service" } reference || !reference.ApiVersion.StartsWith(ResourceKinds.KnativeServing, StringComparison.Ordinal))
        {
            return DefaultInFlight;
        }

        var name = reference.Name;
        var service = snapshot.Get(new ResourceKey(ResourceKinds.KnativeServing, "Service", reference.Namespace ?? ns, name))?.Resource.Spec as Trellis.Api.Serving.KnativeServiceSpec;
        var concurrency = service?.Template.Spec.ContainerConcurrency ?? 0;
        if (concurrency <= 0)
        {
            return DefaultInFlight;
        }

        var ready = instances.Count(i => i.Ready && i.Namespace == (reference.Namespace ?? ns) && i.Labels.GetValueOrDefault(ServingLabels.Service) == name);
        return (int)Math.Min(MaxInFlight, concurrency * Math.Max(1, ready));
    }

    private async Task RemoveGoneAsync(List<Resource> brokers, List<Resource> triggers, CancellationToken cancellationToken)
    {
        var triggerKeys = triggers.Select(t => (t.Key.Namespace, t.Metadata.Name)).ToHashSet();
        foreach (var key in _dispatchers.Keys.Where(k => !triggerKeys.Contains(k)).ToList())
        {
            await StopAsync(key, removeConsumer: true);
        }

        var brokerKeys = brokers.Select(b => (b.Key.Namespace, b.Metadata.Name)).ToHashSet();
        foreach (var key in _brokers.Keys.Where(k => !brokerKeys.Contains(k)).ToList())
        {
            foreach (var trigger in _dispatchers.Where(d => d.Value.Broker == key).Select(d => d.Key).ToList())
            {
                await StopAsync(trigger, removeConsumer: false);
            }

            _brokers.Remove(key);
            _ready = new Dictionary<(string, string), IEventLog>(_brokers);
            await _events.DeleteAsync(LogName(key), cancellationToken);
        }
    }

    private async Task StopAsync((string, string) key, bool removeConsumer)
    {
        if (_dispatchers.Remove(key, out var running))
        {
            await running.Dispatcher.DisposeAsync();
            if (removeConsumer && _brokers.TryGetValue(running.Broker, out var log))
            {
                await log.RemoveConsumerAsync(running.Consumer);
            }
        }
    }

    private static string LogName((string Ns, string Name) broker) => $"broker.{broker.Ns}.{broker.Name}";

    /// <summary>
    /// Knative's status shape: the conditions, Ready the conjunction of the others (unless <paramref name="ready"/> says
    /// more, as a binding's <c>SubjectMissing</c> does), and the generation they describe.
    /// </summary>
    internal static JsonObject WithConditions(JsonObject status, List<Condition> conditions, long? generation, Condition? ready = null)
    {
        var failed = conditions.FirstOrDefault(c => c.IsFalse);
        conditions.Add(failed?.As(ConditionTypes.Ready) ?? ready ?? Condition.Ok(ConditionTypes.Ready));
        status["conditions"] = new JsonArray([.. conditions.Select(c =>
        {
            var condition = new JsonObject { ["type"] = c.Type, ["status"] = c.Status };
            if (c.Reason is not null)
            {
                condition["reason"] = c.Reason;
                condition["message"] = c.Message;
            }

            return (JsonNode)condition;
        })]);
        status["observedGeneration"] = generation;
        return status;
    }

    private async Task RunAsync(TimeSpan tick)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await ReconcileOnceAsync(_stop.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogPassFailed(_log, e);
                }

                await Task.Delay(tick, _time, _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        await _loop;
        foreach (var key in _dispatchers.Keys.ToList())
        {
            await StopAsync(key, removeConsumer: false);
        }

        foreach (var key in _pings.Keys.ToList())
        {
            await StopPingAsync(key);
        }

        _stop.Dispose();
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "Eventing: writing {Key} failed: {Reason}")]
    private static partial void LogWriteFailed(ILogger log, string key, string reason);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Error, Message = "Eventing: reconcile pass failed")]
    private static partial void LogPassFailed(ILogger log, Exception e);
}

using System.Collections.Concurrent;
using System.Text.Json;
using Trellis.Eventing.Delivery;
using Trellis.Eventing.Storage;

namespace Trellis.Eventing.Async;

/// <summary>Runs one attempt of a call against its function (through the gateway); never throws for what the network does.</summary>
public interface IFunctionInvoker
{
    Task<AttemptResult> InvokeAsync(AsyncCall call, CancellationToken cancellationToken);

    /// <summary>Posts the outcome to the call's <c>X-Callback-Url</c>.</summary>
    Task<AttemptResult> CallbackAsync(AsyncCall call, AttemptResult result, TimeSpan duration, CancellationToken cancellationToken);
}

/// <summary>
/// OpenFaaS's queue-worker on the event store. <see cref="EnqueueAsync"/> returns once the call is
/// durable (the gateway then answers 202 with the call id); the worker runs queued calls, up to
/// <see cref="MaxInFlight"/> at a time, retrying what another attempt could fix (no answer, 429, 502,
/// 503, 504) with exponential backoff, then posts the result to the callback URL. A call still failing
/// after the last attempt is dead-lettered: kept as Failed with its last error, and reported to the
/// callback. Finished calls are recorded in a second log, so <c>trellis get calls</c> survives restarts.
/// </summary>
public sealed class AsyncQueue : IAsyncDisposable
{
    public const int MaxInFlight = 16;
    private const string Consumer = "async-worker";
    private const string HistoryConsumer = "history";

    private readonly IEventLog _queue;
    private readonly IEventLog _results;
    private readonly IFunctionInvoker _invoker;
    private readonly TimeProvider _time;
    private readonly DeliveryPolicy _policy;
    private readonly ConcurrentDictionary<string, CallState> _calls = new();
    private readonly SortedSet<long> _unfinished = [];
    private readonly SemaphoreSlim _slots = new(MaxInFlight);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<bool>? _leads;
    private Task _loop = Task.CompletedTask;
    private long _readNext;

    private AsyncQueue(IEventLog queue, IEventLog results, IFunctionInvoker invoker, TimeProvider time, DeliveryPolicy policy, Func<bool>? leads)
    {
        _leads = leads;
        _queue = queue;
        _results = results;
        _invoker = invoker;
        _time = time;
        _policy = policy;
    }

    /// <summary>OpenFaaS retries up to 10 times from 10 s on; a local mesh needs less: 5 retries from 1 s (1, 2, 4, 8, 16 s).</summary>
    public static DeliveryPolicy DefaultPolicy { get; } = new() { Retry = 5, BackoffDelay = TimeSpan.FromSeconds(0.5), Timeout = TimeSpan.FromMinutes(5) };

    /// <param name="leads">
    /// With a store shared by several control planes (JetStream): whether this one runs the calls. The
    /// others only queue them; the worker starts (reading the shared positions again) once this one leads.
    /// </param>
    public static async Task<AsyncQueue> StartAsync(IEventStore store, IFunctionInvoker invoker, TimeProvider time, DeliveryPolicy? policy = null, Func<bool>? leads = null, CancellationToken cancellationToken = default)
    {
        var queue = new AsyncQueue(await store.OpenAsync("async.calls", cancellationToken), await store.OpenAsync("async.results", cancellationToken), invoker, time, policy ?? DefaultPolicy, leads);
        await queue.RecoverAsync(cancellationToken);
        queue._loop = Task.Run(queue.RunAsync, CancellationToken.None);
        return queue;
    }

    public IReadOnlyCollection<CallState> Calls => [.. _calls.Values.OrderBy(c => c.QueuedAt)];

    public async Task<string> EnqueueAsync(AsyncCall call, CancellationToken cancellationToken)
    {
        _calls[call.Id] = State(call, CallPhase.Pending);
        await _queue.AppendAsync([JsonSerializer.SerializeToUtf8Bytes(call)], cancellationToken);
        return call.Id;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>Finished calls from the results log; every queued call after them is pending again (at least once).</summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        await _results.GetPositionAsync(HistoryConsumer, cancellationToken);
        await _results.SetPositionAsync(HistoryConsumer, 1, cancellationToken);
        for (long next = 1; next < _results.NextSequence;)
        {
            foreach (var stored in await _results.ReadAsync(next, 1024, cancellationToken))
            {
                var state = JsonSerializer.Deserialize<CallState>(stored.Payload.Span)!;
                _calls[state.Id] = state;
                next = stored.Sequence + 1;
            }
        }

        _readNext = await _queue.GetPositionAsync(Consumer, cancellationToken);
        for (var next = _readNext; next < _queue.NextSequence;)
        {
            foreach (var stored in await _queue.ReadAsync(next, 1024, cancellationToken))
            {
                var call = JsonSerializer.Deserialize<AsyncCall>(stored.Payload.Span)!;
                _calls.TryAdd(call.Id, State(call, CallPhase.Pending));
                next = stored.Sequence + 1;
            }
        }
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        if (_leads is not null && !_leads())
        {
            while (!_leads())
            {
                await Task.Delay(TimeSpan.FromSeconds(1), _time, token);
            }

            await RecoverAsync(token);
        }
        while (!token.IsCancellationRequested)
        {
            foreach (var stored in await _queue.ReadAsync(_readNext, 256, token))
            {
                var call = JsonSerializer.Deserialize<AsyncCall>(stored.Payload.Span)!;
                await _slots.WaitAsync(token);
                lock (_unfinished)
                {
                    _unfinished.Add(stored.Sequence);
                    _readNext = stored.Sequence + 1;
                }

                _ = RunCallAsync(stored.Sequence, call, token);
            }
        }
    }

    private async Task RunCallAsync(long sequence, AsyncCall call, CancellationToken token)
    {
        try
        {
            // A call finished before a crash that came before its position was written is not run again.
            if (!(_calls.TryGetValue(call.Id, out var known) && known.Phase is CallPhase.Done or CallPhase.Failed))
            {
                await RunAttemptsAsync(call, token);
            }
        }
        catch (OperationCanceledException)
        {
            return; // stopping: the call runs again after the restart
        }
        finally
        {
            _slots.Release();
        }

        long position;
        lock (_unfinished)
        {
            _unfinished.Remove(sequence);
            position = _unfinished.Count > 0 ? _unfinished.Min : _readNext;
        }

        await _queue.SetPositionAsync(Consumer, position, CancellationToken.None);
    }

    private async Task RunAttemptsAsync(AsyncCall call, CancellationToken token)
    {
        var started = _time.GetTimestamp();
        AttemptResult result;
        var attempts = 0;
        while (true)
        {
            attempts++;
            _calls[call.Id] = State(call, CallPhase.Running) with { Attempts = attempts };
            result = await _invoker.InvokeAsync(call, token);
            if (!IsRetryable(result.Status) || attempts > _policy.Retry)
            {
                break;
            }

            await Task.Delay(_policy.Backoff(attempts), _time, token);
        }

        var duration = _time.GetElapsedTime(started);
        var failed = IsRetryable(result.Status);
        var final = State(call, failed ? CallPhase.Failed : CallPhase.Done) with
        {
            Attempts = attempts,
            StatusCode = result.Status,
            Error = failed ? result.Error ?? $"the function answered {result.Status}" : null,
            FinishedAt = _time.GetUtcNow(),
        };
        if (call.CallbackUrl is not null)
        {
            var callback = await _invoker.CallbackAsync(call, result, duration, token);
            final = final with { Callback = callback.Succeeded ? $"delivered ({callback.Status})" : $"failed: {callback.Error ?? callback.Status?.ToString(System.Globalization.CultureInfo.InvariantCulture)}" };
        }

        await _results.AppendAsync([JsonSerializer.SerializeToUtf8Bytes(final)], token);
        _calls[call.Id] = final;
    }

    /// <summary>OpenFaaS's queue-worker retries these; any other answer is the function's result.</summary>
    private static bool IsRetryable(int? status) => status is null or 429 or 502 or 503 or 504;

    private static CallState State(AsyncCall call, CallPhase phase) =>
        new(call.Id, call.Namespace, call.Function, phase, 0, null, null, call.QueuedAt, null, null);
}

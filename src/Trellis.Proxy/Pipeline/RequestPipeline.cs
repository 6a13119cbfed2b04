using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// The one request pipeline every listener path runs (Envoy's HTTP filter chain, linkerd2-proxy's layers), over the
/// protocol-neutral <see cref="IExchange"/>. Stages, in order:
/// (1) route (the engine matched it, <see cref="Route"/>);
/// (2) inbound policy (JWT authentication, then authorization; <see cref="InboundPolicy"/>);
/// (3) local answers: CORS preflight, fault (delay, then abort), redirect, direct response;
/// (4) mirror copies, fire and forget;
/// (5) the attempt loop: pick the destination once, then per try the endpoint (balancer, activator), one attempt
///     through the engine, the outcome classified, retry or not;
/// (6) response edits (header operations, CORS, flags) and the relay;
/// (7) telemetry (the access log now; metrics, traces plug in here).
/// Decisions live here and nowhere else; engines move bytes.
/// </summary>
internal sealed partial class RequestPipeline
{
    /// <summary>Request bodies up to this size are kept in memory when a retry or a mirror may need them again.</summary>
    public const int ReplayLimit = 64 * 1024;

    private readonly SnapshotHolder _snapshots;
    private readonly ProxyServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ActivationQueues _activation;
    private readonly ColdStartStats _coldStarts;
    private readonly TelemetryStage _telemetry;
    private readonly InboundPolicy _inbound;
    private readonly ILogger _forwardLog;
    private readonly ILogger _servingLog;
    private readonly Mirroring _mirroring;

    public RequestPipeline(
        SnapshotHolder snapshots, ProxyServerOptions options, TimeProvider time, ActivationQueues activation, ColdStartStats coldStarts,
        TelemetryStage telemetry, ILogger forwardLog, ILogger servingLog, Mirroring mirroring)
    {
        _snapshots = snapshots;
        _inbound = new InboundPolicy(snapshots, time, telemetry.AuthorizationStats);
        _options = options;
        _time = time;
        _activation = activation;
        _coldStarts = coldStarts;
        _telemetry = telemetry;
        _forwardLog = forwardLog;
        _servingLog = servingLog;
        _mirroring = mirroring;
    }

    public SnapshotHolder Snapshots => _snapshots;

    public TimeProvider Time => _time;

    /// <summary>(1) The route of a request on <paramref name="listener"/> in <paramref name="snapshot"/>; a default match when none.</summary>
    public static RouteMatch Route(CompiledSnapshot snapshot, string listener, in RouteRequest request) =>
        snapshot.TableFor(listener, request.ServerName) is { } table ? table.Match(request) : default;

    /// <summary>
    /// Runs stages (2)–(7) for a routed request and returns what happened; the engine keeps its own bookkeeping
    /// (keep-alive, counting) and has answered or relayed by the time this completes. The common case (no policy
    /// that waits) costs one async frame here: the decisions before the attempt loop are synchronous.
    /// </summary>
    public ValueTask<ExchangeOutcome> RunAsync(IExchange exchange, string listener, RouteMatch match)
    {
        var started = _time.GetTimestamp();
        if (!_telemetry.Enabled)
        {
            return ServeAsync(exchange, listener, match, started);
        }

        _telemetry.Begin(exchange, listener);
        return RecordedAsync(ServeAsync(exchange, listener, match, started), exchange, listener, match, started);
    }

    /// <summary>(7) Telemetry, once the request is done.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ExchangeOutcome> RecordedAsync(ValueTask<ExchangeOutcome> served, IExchange exchange, string listener, RouteMatch match, long started)
    {
        var outcome = default(ExchangeOutcome);
        try
        {
            outcome = await served;
            return outcome;
        }
        finally
        {
            _telemetry.Record(exchange, listener, match, outcome, started);
        }
    }

    private ValueTask<ExchangeOutcome> ServeAsync(IExchange exchange, string listener, RouteMatch match, long started)
    {
        var route = match.Route;
        if (route is null)
        {
            return AnswerAsync(exchange, LocalReply.For(ForwardError.NoRoute), null);
        }

        // (2)
        if (_inbound.Check(exchange, listener, out var requestEdits, out var external) is { } refusal)
        {
            return AnswerAsync(exchange, refusal, null);
        }

        return external is not null
            ? ExternalThenServeAsync(exchange, listener, match, started, external, requestEdits)
            : ServeAllowedAsync(exchange, listener, match, started, requestEdits);
    }

    /// <summary>(2) A CUSTOM policy matched: the external authorizer answers first (the only inbound step that waits).</summary>
    private async ValueTask<ExchangeOutcome> ExternalThenServeAsync(
        IExchange exchange, string listener, RouteMatch match, long started, ExternalCheck external, HeaderOperations? requestEdits)
    {
        var (refusal, edits) = await _inbound.CheckExternalAsync(exchange, external, requestEdits);
        return refusal is { } answer
            ? await AnswerAsync(exchange, answer, null)
            : await ServeAllowedAsync(exchange, listener, match, started, edits);
    }

    /// <summary>After (2): rate limits, then (3) on.</summary>
    private ValueTask<ExchangeOutcome> ServeAllowedAsync(IExchange exchange, string listener, RouteMatch match, long started, HeaderOperations? requestEdits)
    {
        var route = match.Route!;
        if ((route.RateLimit is not null || _snapshots.Current.RateLimitsByListener.Count != 0) && RateLimit(listener, route) is { } limited)
        {
            return AnswerAsync(exchange, limited, null);
        }

        // (3)
        KeyValuePair<string, string>[]? added = null;
        if (route.Cors is { } cors && Cors(exchange, cors, ref added) is { } preflight)
        {
            return AnswerAsync(exchange, preflight, null);
        }

        var flags = ResponseFlags.None;
        if (route.Fault is { } fault)
        {
            if (fault.Delay is { } delay && Draws(delay.Percentage))
            {
                return DelayThenServeAsync(exchange, match, started, delay.FixedDelay, added, requestEdits);
            }

            if (fault.Abort is { } abort && Draws(abort.Percentage))
            {
                return AnswerAsync(exchange, Faults.Abort(abort, flags), null);
            }
        }

        return AnswerOrForwardAsync(exchange, match, flags, started, added, requestEdits);
    }

    /// <summary>(3) A fault's delay, then the rest, with the DI flag; the abort is drawn after the delay, as Envoy's fault filter does.</summary>
    private async ValueTask<ExchangeOutcome> DelayThenServeAsync(
        IExchange exchange, RouteMatch match, long started, TimeSpan delay, KeyValuePair<string, string>[]? added, HeaderOperations? requestEdits)
    {
        var flags = ResponseFlags.DelayInjected;
        if (!await DelayAsync(exchange, delay))
        {
            return new ExchangeOutcome(ForwardError.RequestCanceled, 0, flags | ResponseFlags.DownstreamConnectionTermination, null, null);
        }

        if (match.Route!.Fault!.Abort is { } abort && Draws(abort.Percentage))
        {
            return await AnswerAsync(exchange, Faults.Abort(abort, flags), null);
        }

        return await AnswerOrForwardAsync(exchange, match, flags, started, added, requestEdits);
    }

    /// <summary>(3)–(5) The route's own answers (redirect, direct response), else mirrors and the attempt loop.</summary>
    private ValueTask<ExchangeOutcome> AnswerOrForwardAsync(
        IExchange exchange, RouteMatch match, ResponseFlags flags, long started, KeyValuePair<string, string>[]? added, HeaderOperations? requestEdits)
    {
        var route = match.Route!;
        if (route.Redirect is { } redirect)
        {
            var request = exchange.Request;
            var location = RedirectBuilder.Location(redirect, exchange.Scheme, request.Authority, request.Path, request.Query, match.Matched);
            return AnswerAsync(exchange, new LocalReply(redirect.StatusCode, default, flags, ForwardError.None, null, [new("Location", location)]), null);
        }

        if (route.DirectResponse is { } direct)
        {
            return AnswerAsync(exchange, new LocalReply(direct.Status, direct.Body ?? default(ReadOnlyMemory<byte>), flags, ForwardError.None, direct.Body is null ? null : "text/plain"), null);
        }

        // (4)
        return route.Mirrors.Length > 0
            ? MirrorThenForwardAsync(exchange, match, flags, started, added, requestEdits)
            : ForwardAsync(exchange, route, match.Matched, flags, started, added, requestEdits);
    }

    private async ValueTask<ExchangeOutcome> MirrorThenForwardAsync(
        IExchange exchange, RouteMatch match, ResponseFlags flags, long started, KeyValuePair<string, string>[]? added, HeaderOperations? requestEdits)
    {
        if (exchange.HasBody)
        {
            await exchange.HoldBodyAsync(ReplayLimit);
        }

        _mirroring.Copy(exchange, match.Route!, match.Matched, requestEdits);
        return await ForwardAsync(exchange, match.Route!, match.Matched, flags, started, added, requestEdits);
    }

    /// <summary>
    /// (5)–(6) Picks the destination once, then tries endpoints until one answers or the policy stops: per attempt the
    /// endpoint (balancer, ejections, hash key; the activator when the cluster has none), the circuit breakers, the
    /// attempt itself under the route's and the try's timeouts, outlier detection, and the retry decision with its
    /// budget and backoff. The last outcome is relayed (a response) or answered (a failure).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ExchangeOutcome> ForwardAsync(
        IExchange exchange, CompiledRoute route, CompiledMatch? matched, ResponseFlags flags, long started, KeyValuePair<string, string>[]? added, HeaderOperations? requestEdits)
    {
        var destination = route.PickDestination(_options.Random);
        var cluster = route.Clusters[destination];
        var retry = route.Retry;
        var method = exchange.Request.Method;

        // A body that a retry after the upstream saw the request may need again is kept, up to the replay bound.
        var replayable = !exchange.HasBody || (retry is not null && retry.MayRetryAfterSending(method) && await exchange.HoldBodyAsync(ReplayLimit));
        var hash = cluster.Picker.UsesHash ? HashOf(exchange, cluster.Config.ConsistentHash!, ref added) : null;
        using var timeout = route.Timeout is { } limit ? new CancellationTokenSource(limit, _time) : null;
        var token = timeout?.Token ?? CancellationToken.None;
        var reachedUpstream = false;
        var retrying = false; // the attempt under way holds a retry slot of the breaker
        EndpointState? previous = null;
        for (var attempt = 0; ; attempt++)
        {
            var endpoint = cluster.Config.LoadBalancer == Trellis.Api.Snapshots.LoadBalancerKind.Passthrough
                ? cluster.PassthroughEndpoint(exchange.Request) is var named && !PassthroughLoop.IsSelf(named, _snapshots.Current.Source) ? named : null
                : cluster.NextEndpoint(hash, attempt);

            // A retry avoids the endpoint that just failed when the cluster has another (Istio's
            // retryIgnorePreviousHosts, true unless written false: Envoy's previous_hosts predicate, up to 5 picks).
            for (var pick = 1; pick < 5 && attempt > 0 && retry?.IgnorePreviousHosts == true && ReferenceEquals(endpoint, previous) && cluster.Endpoints.Length > 1 && cluster.EndpointCapacity == 0; pick++)
            {
                endpoint = cluster.NextEndpoint(hash, attempt + pick);
            }

            previous = endpoint;
            var cold = false;
            if (endpoint is null && cluster.Activation is not null && attempt == 0)
            {
                // Waiting for an instance to start is a cold start; waiting for a free slot is not.
                cold = cluster.Endpoints.Length == 0;
                var activated = await ActivateAsync(exchange, cluster);
                if (activated.Endpoint is null)
                {
                    return await AnswerAsync(exchange, activated.Reply with { Flags = activated.Reply.Flags | flags }, cluster);
                }

                (cluster, endpoint) = (activated.Cluster, activated.Endpoint);
            }

            var held = new Held(cluster, endpoint, retrying, _activation);
            retrying = false;
            try
            {
                if (endpoint is null)
                {
                    return await AnswerAsync(exchange, LocalReply.For(ForwardError.NoHealthyUpstream, flags), cluster);
                }

                (var admitted, held.Request, held.Slots) = await AdmitAsync(exchange, cluster, token);
                if (admitted != ForwardError.None)
                {
                    return await AnswerAsync(exchange, LocalReply.For(admitted, flags), cluster);
                }

                // (5) The attempt, under the route's timeout and the try's own.
                using var perTry = retry?.PerTryTimeout is { } tryLimit ? new CancellationTokenSource(tryLimit, _time) : null;
                using var linked = perTry is null || timeout is null ? default : token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), perTry);
                endpoint.RequestStarted();
                held.Started = true;
                var result = await exchange.AttemptAsync(new Attempt(route, matched, cluster, endpoint, destination, attempt, requestEdits), perTry?.Token ?? token);
                if (result.Outcome == AttemptEnd.ClientFailure && result.Error == ForwardError.RequestCanceled)
                {
                    return new ExchangeOutcome(result.Error, 0, flags | ResponseFlags.DownstreamConnectionTermination, cluster, endpoint);
                }

                var outcome = Classify(exchange, result, retry);
                if (result.Outcome != AttemptEnd.ClientFailure)
                {
                    cluster.Outlier?.Record(endpoint, outcome);
                }

                reachedUpstream |= outcome.MayHaveReachedUpstream;
                var decision = retry is null || result.Outcome == AttemptEnd.ClientFailure || token.IsCancellationRequested
                    ? RetryDecision.Done
                    : retry.Decide(outcome, method, replayable, attempt, reachedUpstream, RetriableHeaderNames(exchange, retry));
                if (decision == RetryDecision.Retry)
                {
                    if (cluster.Breaker.TryStartRetry())
                    {
                        if (result.Outcome == AttemptEnd.Response)
                        {
                            exchange.DiscardResponse();
                        }

                        held.Release();
                        retrying = true;
                        if (!await DelayAsync(exchange, route.Backoff!.Delay(attempt + 1)))
                        {
                            cluster.Breaker.EndRetry();
                            return new ExchangeOutcome(ForwardError.RequestCanceled, 0, flags | ResponseFlags.DownstreamConnectionTermination, cluster, endpoint);
                        }

                        continue;
                    }

                    flags |= ResponseFlags.UpstreamOverflow; // the retry budget (or maxRetries) is spent: this outcome stands
                }
                else if (decision == RetryDecision.LimitReached)
                {
                    flags |= ResponseFlags.UpstreamRetryLimitExceeded;
                }
                else if (decision == RetryDecision.NotReplayable)
                {
                    flags |= ResponseFlags.NotReplayable;
                }

                if (result.Outcome != AttemptEnd.Response)
                {
                    ProxyLog.ForwardFailed(_forwardLog, endpoint.Origin, result.Error, null);
                    var failed = await AnswerAsync(exchange, LocalReply.For(result.Error, flags), cluster);
                    return failed with { Endpoint = endpoint };
                }

                if (cold)
                {
                    _coldStarts.Record(cluster.Name, _time.GetElapsedTime(started));
                }

                // (6)
                var edits = new ResponseEdits(route.ResponseHeadersFor(destination), added, flags);
                var relayed = await exchange.RelayAsync(edits, token);
                return new ExchangeOutcome(relayed, result.Status, flags | ForwardErrorResponses.FlagsOf(relayed), cluster, endpoint);
            }
            finally
            {
                held.Release();
            }
        }
    }

    /// <summary>
    /// The circuit breakers before an attempt: requests in flight to the cluster (<c>http2MaxRequests</c>) refuse at
    /// once; connections in use (<c>maxConnections</c>) make the attempt wait as a pending request, bounded by
    /// <c>http1MaxPendingRequests</c>, for one to be given back.
    /// </summary>
    /// <returns>The refusal (or <see cref="ForwardError.None"/>), and what was taken: a request slot, a connection slot.</returns>
    private static ValueTask<(ForwardError Error, bool Request, ConnectionSlots? Slots)> AdmitAsync(IExchange exchange, ClusterState cluster, CancellationToken token)
    {
        if (!cluster.Breaker.TryStartRequest())
        {
            return new((ForwardError.UpstreamOverflow, false, null));
        }

        if (cluster.ConnectionSlots is not { } slots)
        {
            return new((ForwardError.None, true, null));
        }

        if (slots.TryTake())
        {
            return new((ForwardError.None, true, slots));
        }

        return cluster.Breaker.TryStartPending() ? WaitForConnectionAsync(exchange, cluster, slots, token) : new((ForwardError.UpstreamOverflow, true, null));
    }

    private static async ValueTask<(ForwardError Error, bool Request, ConnectionSlots? Slots)> WaitForConnectionAsync(
        IExchange exchange, ClusterState cluster, ConnectionSlots slots, CancellationToken token)
    {
        try
        {
            using var either = CancellationTokenSource.CreateLinkedTokenSource(token, exchange.ClientGone);
            return await slots.WaitAsync(either.Token)
                ? (ForwardError.None, true, slots)
                : (token.IsCancellationRequested ? ForwardError.UpstreamTimeout : ForwardError.RequestCanceled, true, null);
        }
        finally
        {
            cluster.Breaker.EndPending();
        }
    }

    /// <summary>The attempt's outcome as retry policy and outlier detection read it.</summary>
    private static AttemptOutcome Classify(IExchange exchange, in AttemptResult result, RetryPolicy? retry)
    {
        switch (result.Outcome)
        {
            case AttemptEnd.Response:
                var grpc = -1;
                if (retry is { UsesGrpcStatus: true } && exchange.TryGetResponseHeader("grpc-status", out var status))
                {
                    grpc = AttemptOutcome.ParseGrpcStatus<char>(status);
                }

                return AttemptOutcome.Response(result.Status, grpc, exchange);
            case AttemptEnd.ConnectFailure:
                return AttemptOutcome.Failed(AttemptFailure.ConnectFailure);
            case AttemptEnd.RefusedStream:
                return AttemptOutcome.Failed(AttemptFailure.RefusedStream);
            case AttemptEnd.Timeout:
                return AttemptOutcome.Failed(AttemptFailure.PerTryTimeout);
            default:
                return AttemptOutcome.Failed(result.RequestSent ? AttemptFailure.Reset : AttemptFailure.ResetBeforeRequest);
        }
    }

    private static ReadOnlySpan<char> RetriableHeaderNames(IExchange exchange, RetryPolicy retry) =>
        retry.UsesRetriableHeaders && exchange.Request.TryGetHeader(RetryPolicy.RetriableHeaderNamesField, out var names) ? names : default;

    /// <summary>
    /// What one attempt holds and gives back, once, however it ends: the breaker's request (and retry) slot, a
    /// connection slot, the endpoint's in-flight count, an activator slot.
    /// </summary>
    private struct Held(ClusterState cluster, EndpointState? endpoint, bool retry, ActivationQueues activation)
    {
        private bool _released;

        public bool Request { get; set; }

        public bool Started { get; set; }

        public ConnectionSlots? Slots { get; set; }

        public void Release()
        {
            if (_released)
            {
                return;
            }

            _released = true;
            if (Started)
            {
                endpoint!.RequestEnded();
            }

            Slots?.Return();
            if (Request)
            {
                cluster.Breaker.EndRequest();
            }

            if (retry)
            {
                cluster.Breaker.EndRetry();
            }

            if (endpoint is not null && cluster.EndpointCapacity > 0)
            {
                endpoint.ReturnSlot();
                activation.SlotReturned(cluster.Name);
            }
        }
    }

    private async ValueTask<ExchangeOutcome> AnswerAsync(IExchange exchange, LocalReply reply, ClusterState? cluster)
    {
        await exchange.AnswerAsync(reply);
        return new ExchangeOutcome(reply.Error, reply.Status, reply.Flags, cluster, null);
    }

    /// <summary>True for <paramref name="percentage"/> % of calls (0–100, to a millionth), on the injected random source.</summary>
    private bool Draws(double percentage) =>
        percentage >= 100 || (percentage > 0 && _options.Random(1_000_000) < percentage * 10_000);

    /// <summary>Waits <paramref name="delay"/> on the injected clock; false when the client left meanwhile.</summary>
    private async ValueTask<bool> DelayAsync(IExchange exchange, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, exchange.ClientGone);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>What one request came to, for the engine and for telemetry.</summary>
internal readonly record struct ExchangeOutcome(ForwardError Error, int Status, ResponseFlags Flags, ClusterState? Cluster, EndpointState? Endpoint);

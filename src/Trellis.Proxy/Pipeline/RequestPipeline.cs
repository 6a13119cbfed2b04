using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// The one request pipeline every listener path runs (Envoy's HTTP filter chain, linkerd2-proxy's layers), over the
/// protocol-neutral <see cref="IExchange"/>. Stages, in order:
/// (1) route (the engine matched it, <see cref="Route"/>);
/// (2) inbound policy (authorization and JWT plug in here; nothing yet);
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
    private readonly InboundPolicy _inbound = new();
    private readonly ILogger _forwardLog;
    private readonly ILogger _servingLog;
    private readonly Mirroring _mirroring;

    public RequestPipeline(
        SnapshotHolder snapshots, ProxyServerOptions options, TimeProvider time, ActivationQueues activation, ColdStartStats coldStarts,
        ILogger accessLog, ILogger forwardLog, ILogger servingLog, Mirroring mirroring)
    {
        _snapshots = snapshots;
        _options = options;
        _time = time;
        _activation = activation;
        _coldStarts = coldStarts;
        _telemetry = new TelemetryStage(accessLog, time);
        _forwardLog = forwardLog;
        _servingLog = servingLog;
        _mirroring = mirroring;
    }

    public SnapshotHolder Snapshots => _snapshots;

    public TimeProvider Time => _time;

    /// <summary>(1) The route of a request on <paramref name="listener"/> in <paramref name="snapshot"/>; a default match when none.</summary>
    public static RouteMatch Route(CompiledSnapshot snapshot, string listener, in RouteRequest request) =>
        snapshot.RouteTablesByListener.TryGetValue(listener, out var table) ? table.Match(request) : default;

    /// <summary>
    /// Runs stages (2)–(7) for a routed request and returns what happened; the engine keeps its own bookkeeping
    /// (keep-alive, counting) and has answered or relayed by the time this completes. The common case (no policy
    /// that waits) costs one async frame here: the decisions before the attempt loop are synchronous.
    /// </summary>
    public ValueTask<ExchangeOutcome> RunAsync(IExchange exchange, string listener, RouteMatch match)
    {
        var started = _time.GetTimestamp();
        var served = ServeAsync(exchange, listener, match, started);
        return _telemetry.Enabled ? RecordedAsync(served, exchange, listener, match, started) : served;
    }

    /// <summary>(7) Telemetry, once the request is done.</summary>
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
        if (_inbound.Check(exchange, listener, route) is { } refusal)
        {
            return AnswerAsync(exchange, refusal, null);
        }

        // (3)
        var flags = ResponseFlags.None;
        if (route.Fault is { } fault)
        {
            if (fault.Delay is { } delay && Draws(delay.Percentage))
            {
                return DelayThenServeAsync(exchange, match, started, delay.FixedDelay);
            }

            if (fault.Abort is { } abort && Draws(abort.Percentage))
            {
                return AnswerAsync(exchange, Faults.Abort(abort, flags), null);
            }
        }

        return AnswerOrForwardAsync(exchange, match, flags, started);
    }

    /// <summary>(3) A fault's delay, then the rest, with the DI flag; the abort is drawn after the delay, as Envoy's fault filter does.</summary>
    private async ValueTask<ExchangeOutcome> DelayThenServeAsync(IExchange exchange, RouteMatch match, long started, TimeSpan delay)
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

        return await AnswerOrForwardAsync(exchange, match, flags, started);
    }

    /// <summary>(3)–(5) The route's own answers (redirect, direct response), else mirrors and the attempt loop.</summary>
    private ValueTask<ExchangeOutcome> AnswerOrForwardAsync(IExchange exchange, RouteMatch match, ResponseFlags flags, long started)
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
        return route.Mirrors.Length > 0 ? MirrorThenForwardAsync(exchange, match, flags, started) : ForwardAsync(exchange, route, match.Matched, flags, started);
    }

    private async ValueTask<ExchangeOutcome> MirrorThenForwardAsync(IExchange exchange, RouteMatch match, ResponseFlags flags, long started)
    {
        if (exchange.HasBody)
        {
            await exchange.HoldBodyAsync(ReplayLimit);
        }

        _mirroring.Copy(exchange, match.Route!, match.Matched);
        return await ForwardAsync(exchange, match.Route!, match.Matched, flags, started);
    }

    /// <summary>(5)–(6) Picks the destination once and tries endpoints until one answers or the policy stops.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ExchangeOutcome> ForwardAsync(IExchange exchange, CompiledRoute route, CompiledMatch? matched, ResponseFlags flags, long started)
    {
        var destination = route.PickDestination(_options.Random);
        var cluster = route.Clusters[destination];
        var endpoint = cluster.NextEndpoint();
        var cold = false;
        if (endpoint is null && cluster.Activation is not null)
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

        var slot = endpoint is not null && cluster.EndpointCapacity > 0 ? endpoint : null;
        try
        {
            if (endpoint is null)
            {
                return await AnswerAsync(exchange, LocalReply.For(ForwardError.NoHealthyUpstream, flags), cluster);
            }

            using var timeout = route.Timeout is { } limit ? new CancellationTokenSource(limit, _time) : null;
            var token = timeout?.Token ?? CancellationToken.None;
            endpoint.RequestStarted();
            AttemptResult result;
            try
            {
                result = await exchange.AttemptAsync(new Attempt(route, matched, cluster, endpoint, destination, 0), token);
            }
            finally
            {
                endpoint.RequestEnded();
            }

            if (result.Outcome != AttemptEnd.Response)
            {
                if (result.Outcome == AttemptEnd.ClientFailure && result.Error == ForwardError.RequestCanceled)
                {
                    return new ExchangeOutcome(result.Error, 0, flags | ResponseFlags.DownstreamConnectionTermination, cluster, endpoint);
                }

                ProxyLog.ForwardFailed(_forwardLog, endpoint.Origin, result.Error, null);
                var failed = await AnswerAsync(exchange, LocalReply.For(result.Error, flags), cluster);
                return failed with { Endpoint = endpoint };
            }

            if (cold)
            {
                _coldStarts.Record(cluster.Name, _time.GetElapsedTime(started));
            }

            var edits = new ResponseEdits(route.ResponseHeadersFor(destination), null, flags);
            var relayed = await exchange.RelayAsync(edits, token);
            return new ExchangeOutcome(relayed, result.Status, flags | ForwardErrorResponses.FlagsOf(relayed), cluster, endpoint);
        }
        finally
        {
            if (slot is not null)
            {
                slot.ReturnSlot();
                _activation.SlotReturned(cluster.Name);
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

using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Trellis.Api;
using Trellis.Api.GatewayApi;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Compiler.GatewayApi;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.GatewayApi;

/// <summary>
/// The Gateway API controller: after every change of the mesh state it (1) gives each of Trellis's Gateways without
/// an address one from the <see cref="GatewayAddressPool"/>, recorded in <c>status.addresses</c>, which the config
/// compiler binds the Gateway's listeners on, and (2) writes the status <see cref="GatewayApiStatus"/> computes, where
/// it changed. At start it creates the GatewayClasses <c>trellis</c> and <c>istio</c> (so that Istio's Gateway API
/// samples run unchanged), as istiod creates its class; a class a user wrote is left alone.
/// </summary>
public sealed partial class GatewayApiController : IAsyncDisposable
{
    public static readonly IReadOnlyList<string> DefaultClasses = ["trellis", "istio"];

    private readonly IResourceStore _store;
    private readonly MeshStateSource _states;
    private readonly GatewayAddressPool _addresses;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    public GatewayApiController(IResourceStore store, MeshStateSource states, GatewayAddressPool addresses, TimeProvider time, ILogger<GatewayApiController> log)
    {
        _store = store;
        _states = states;
        _addresses = addresses;
        _time = time;
        _log = log;
        _loop = RunAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    /// <summary>One pass over <paramref name="state"/>; public so tests can drive it.</summary>
    public async Task ReconcileAsync(MeshState state, CancellationToken cancellationToken)
    {
        var ops = new List<StoreOperation>();
        ops.AddRange(AssignAddresses(state));
        if (ops.Count == 0)
        {
            foreach (var (key, status) in GatewayApiStatus.Compute(state, _time.GetUtcNow()))
            {
                if (state.Store.Get(key) is { } stored && !JsonNode.DeepEquals(Merged(stored.Resource.Status, status), stored.Resource.Status))
                {
                    ops.Add(new PutOperation(stored.Resource with { Status = Merged(stored.Resource.Status, status) }) { ExpectedResourceVersion = stored.ResourceVersion });
                }
            }
        }

        foreach (var op in ops)
        {
            // One write per object: a user's edit in between makes that one write conflict; the next pass redoes it.
            var result = await _store.WriteAsync([op], cancellationToken);
            if (!result.Succeeded && result.Error != StoreErrorKind.Conflict)
            {
                LogWriteFailed(_log, op.Key.ToString(), result.Message ?? result.Error.ToString());
            }
        }
    }

    private List<StoreOperation> AssignAddresses(MeshState state)
    {
        var index = new GatewayApiIndex(state);
        var taken = index.Gateways.Where(g => g.Address is not null).Select(g => g.Address!).ToHashSet(StringComparer.Ordinal);
        var ops = new List<StoreOperation>();
        foreach (var gateway in index.Gateways.Where(g => g.Ours && g.Address is null && g.Spec.Addresses.Count == 0))
        {
            var stored = state.Store.Get(new ResourceKey(ResourceKinds.GatewayApi, "Gateway", gateway.Namespace, gateway.Name))!;
            if (_addresses.Next(taken) is not { } address)
            {
                LogPoolExhausted(_log, gateway.Namespace, gateway.Name);
                continue;
            }

            taken.Add(address);
            var status = stored.Resource.Status?.DeepClone().AsObject() ?? [];
            status["addresses"] = new JsonArray(new JsonObject { ["type"] = "IPAddress", ["value"] = address });
            ops.Add(new PutOperation(stored.Resource with { Status = status }) { ExpectedResourceVersion = stored.ResourceVersion });
        }

        return ops;
    }

    /// <summary>Trellis's fields replace their old values; anything else in the status (another writer's) stays.</summary>
    private static JsonObject Merged(JsonObject? stored, JsonObject computed)
    {
        var merged = stored?.DeepClone().AsObject() ?? [];
        foreach (var (name, value) in computed)
        {
            merged[name] = value?.DeepClone();
        }

        return merged;
    }

    private async Task CreateDefaultClassesAsync(CancellationToken cancellationToken)
    {
        foreach (var name in DefaultClasses)
        {
            var resource = new Resource($"{ResourceKinds.GatewayApi}/v1", "GatewayClass", new ObjectMeta { Name = name },
                new GatewayClassSpec { ControllerName = GatewayClassSpec.TrellisController, Description = "Gateways served by Trellis's gateway proxies" });
            if (_store.Snapshot.Get(resource.Key) is null)
            {
                await _store.WriteAsync([new PutOperation(resource, PutMode.CreateOnly)], cancellationToken);
            }
        }
    }

    private async Task RunAsync()
    {
        await Task.Yield();
        try
        {
            await CreateDefaultClassesAsync(_stop.Token);
            long seen = 0;
            while (true)
            {
                await _states.WaitForNewerAsync(seen, _stop.Token);
                var state = _states.Current;
                seen = state.Generation;
                try
                {
                    await ReconcileAsync(state, _stop.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogPassFailed(_log, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 2301, Level = LogLevel.Warning, Message = "Gateway API: writing {Key} failed: {Reason}")]
    private static partial void LogWriteFailed(ILogger log, string key, string reason);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Warning, Message = "Gateway API: no free address left for Gateway {Namespace}/{Name}; widen --gateway-addresses")]
    private static partial void LogPoolExhausted(ILogger log, string @namespace, string name);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Error, Message = "Gateway API: status pass failed")]
    private static partial void LogPassFailed(ILogger log, Exception e);
}

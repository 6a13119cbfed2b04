using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trellis.ControlPlane.Ca;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;
using Trellis.Eventing.Async;
using Trellis.Eventing.Delivery;
using Trellis.Eventing.Storage;
using Trellis.Eventing.Storage.JetStream;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// The eventing data plane beside the control plane: the broker ingress on its own listener, the
/// event store (embedded in the data directory, or JetStream), and the controller that runs the Triggers.
/// </summary>
public sealed partial class EventingHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IEventStore _events;
    private readonly EventingController _controller;
    private readonly HttpClient _client;
    private readonly AsyncQueue _async;

    private EventingHost(WebApplication app, IEventStore events, EventingController controller, HttpClient client, Uri ingress, AsyncQueue asyncQueue)
    {
        _async = asyncQueue;
        _app = app;
        _events = events;
        _controller = controller;
        _client = client;
        IngressUrl = ingress;
    }

    /// <summary>The broker ingress base address: Broker addresses are <c>{IngressUrl}{namespace}/{broker}</c>.</summary>
    public Uri IngressUrl { get; }

    public EventingController Controller => _controller;

    /// <summary>Every async call known: pending, running, done and failed (<c>trellis get calls</c>).</summary>
    public IReadOnlyCollection<CallState> Calls => _async.Calls;

    /// <summary>
    /// Starts on <see cref="EventingOptions.BrokerEndpoint"/>; when that port is taken (another
    /// Trellis on the machine, a test) it takes a free one and says so: Broker addresses in status
    /// always carry the port actually bound.
    /// </summary>
    /// <param name="leads">Whether this control-plane replica leads; with a shared (JetStream) store only the leader delivers.</param>
    /// <param name="identity">What deliveries to mesh workloads present (mTLS); null where there is no CA (they are then refused).</param>
    public static async Task<EventingHost> StartAsync(EventingOptions options, string dataDirectory, IResourceStore store, ServiceRegistry registry, ILoggerFactory loggers, TimeProvider time, Func<bool>? leads = null, OwnIdentity? identity = null, CancellationToken cancellationToken = default)
    {
        // The embedded store is this replica's own: it delivers what it took, leader or not.
        leads = options.JetStream is null ? null : leads;
        try
        {
            return await StartOnAsync(options, dataDirectory, store, registry, loggers, time, leads, identity, cancellationToken);
        }
        catch (IOException) when (options.BrokerEndpoint.Port != 0)
        {
            var log = loggers.CreateLogger<EventingHost>();
            LogPortTaken(log, options.BrokerEndpoint.ToString());
            return await StartOnAsync(options with { BrokerEndpoint = new System.Net.IPEndPoint(options.BrokerEndpoint.Address, 0) }, dataDirectory, store, registry, loggers, time, leads, identity, cancellationToken);
        }
    }

    private static async Task<EventingHost> StartOnAsync(EventingOptions options, string dataDirectory, IResourceStore store, ServiceRegistry registry, ILoggerFactory loggers, TimeProvider time, Func<bool>? leads, OwnIdentity? identity, CancellationToken cancellationToken)
    {
        IEventStore events = options.JetStream is { } jetStream
            ? await JetStreamEventStore.ConnectAsync(jetStream, loggers.CreateLogger<JetStreamEventStore>(), cancellationToken)
            : new FileEventStore(Path.Combine(dataDirectory, "eventing"));
        var client = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            AllowAutoRedirect = false,
            ConnectCallback = new MeshDeliveryConnector(identity, time).ConnectAsync,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedHostLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(options.BrokerEndpoint, l => l.Protocols = HttpProtocols.Http1AndHttp2);
            k.Limits.MaxRequestBodySize = null;
        });

        BrokerIngress? ingress = null;
        AsyncEndpoint? asyncEndpoint = null;
        // A request is parsed and handled on the thread its socket completion already runs on, not handed to another
        // pool thread first: one thread switch less per event (context switches were a tenth of the ingress's CPU).
        // "Unsafe" is for handlers that block; these never do (they await the store).
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);

        var app = builder.Build();
        // The broker ingress ahead of routing (see BrokerIngress.InvokeAsync); the async endpoints are routed.
        app.Use((context, next) => ingress!.InvokeAsync(context, next));
        app.UseRouting();
        app.MapPost("/async-function/{function}", (HttpContext c, string function) => asyncEndpoint!.HandleAsync(c, function, null));
        app.MapPost("/async-function/{function}/{**rest}", (HttpContext c, string function, string? rest) => asyncEndpoint!.HandleAsync(c, function, rest));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            await events.DisposeAsync();
            client.Dispose();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = new Uri(options.BrokerEndpoint.Port != 0 ? $"http://{options.BrokerEndpoint}/" : address.TrimEnd('/') + "/");
        var controller = new EventingController(store, registry, events, new HttpEventSender(client), options, url, time, loggers.CreateLogger<EventingController>(), leads);
        ingress = new BrokerIngress(controller, options, time);
        var asyncQueue = await AsyncQueue.StartAsync(events, new GatewayFunctionInvoker(client, options.Gateway, TimeSpan.FromMinutes(5)), time, cancellationToken: cancellationToken, leads: leads);
        asyncEndpoint = new AsyncEndpoint(asyncQueue, controller, options, time);
        return new EventingHost(app, events, controller, client, url, asyncQueue);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _async.DisposeAsync();
        await _controller.DisposeAsync();
        await _app.DisposeAsync();
        await _events.DisposeAsync();
        _client.Dispose();
    }

    [LoggerMessage(EventId = 2403, Level = LogLevel.Warning, Message = "Eventing: broker ingress address {Endpoint} is taken; listening on a free port instead (see the Broker's status.address.url)")]
    private static partial void LogPortTaken(ILogger log, string endpoint);
}

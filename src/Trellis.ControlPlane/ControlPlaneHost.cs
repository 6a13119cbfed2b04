using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trellis.Api.Identity;
using Trellis.ControlPlane.ApiServer;
using Trellis.ControlPlane.Ca;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Leadership;
using Trellis.ControlPlane.Eventing;
using Trellis.ControlPlane.Metering;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Serving;
using Trellis.ControlPlane.Store;
using Trellis.ControlPlane.Store.Etcd;

namespace Trellis.ControlPlane;

/// <summary>
/// The control plane process: the store, the registry, the API server and the push server, on two
/// Kestrel endpoints. Hosts (the <c>controlplane</c> and <c>up</c> roles) start and dispose it.
/// With <see cref="ControlPlaneOptions.Store"/> set to etcd it is one replica of several: state in
/// etcd (State.cs), leader-only work gated by <see cref="ILeadership"/>.
/// </summary>
public sealed class ControlPlaneHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ControlPlaneState _state;
    private readonly MeshStateSource _states;
    private readonly ITimer? _expiry;
    private readonly ServingController _serving;
    private readonly GatewayApi.GatewayApiController _gatewayApi;
    private readonly Scheduling.SchedulerController _scheduler;
    private readonly EventingHost? _eventing;
    private readonly Events.EventRecorder _events;

    private ControlPlaneHost(WebApplication app, ControlPlaneState state, MeshStateSource states, ITimer? expiry, ServingController serving, GatewayApi.GatewayApiController gatewayApi, Scheduling.SchedulerController scheduler, EventingHost? eventing, Events.EventRecorder events)
    {
        _events = events;
        _scheduler = scheduler;
        _serving = serving;
        _gatewayApi = gatewayApi;
        _eventing = eventing;
        _app = app;
        _state = state;
        _states = states;
        _expiry = expiry;
    }

    public IResourceStore Store => _state.Store;

    public ILeadership Leadership => _state.Leadership;

    public ServiceRegistry Registry => _state.Registry;

    public Uri ApiUrl { get; private set; } = null!;

    /// <summary>The certificate authority (its join token's file tells <c>trellis up</c> what to give its agent).</summary>
    public CaService Ca { get; private init; } = null!;

    public Uri PushUrl { get; private set; } = null!;

    /// <summary>The API's tokens; <see cref="Auth.TokenStore.AdminTokenPath"/> is where the first admin token was written.</summary>
    public Auth.TokenStore Tokens { get; private init; } = null!;

    /// <summary>The broker ingress (Broker addresses are under it), or null when eventing is off.</summary>
    public Uri? BrokerIngressUrl => _eventing?.IngressUrl;

    public static async Task<ControlPlaneHost> StartAsync(ControlPlaneOptions options, ILoggerFactory loggers, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        time ??= TimeProvider.System;
        var identity = options.ReplicaName ?? $"{Environment.MachineName.ToLowerInvariant()}/{Environment.ProcessId}";
        var scheme = options.Tls ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
        var advertised = options.AdvertiseUrl?.ToString()
            ?? (options.ApiEndpoint.Address.Equals(IPAddress.Any) || options.ApiEndpoint.Address.Equals(IPAddress.IPv6Any) || options.ApiEndpoint.Port == 0 ? null : $"{scheme}://{options.ApiEndpoint}");
        var state = await ControlPlaneState.OpenAsync(options, identity, advertised, loggers, time, cancellationToken);
        var registry = state.Registry;
        var ca = OpenCa(options, time, (node, ns, account) => NodeIdentities.Refusal(state.Store.Snapshot, node, ns, account));
        var tls = options.Tls ? ApiTls.Create(ca, options, time) : null;
        var tokens = options.Tokens ?? Auth.TokenStore.Open(Auth.TokenStore.DirectoryIn(options.DataDirectory), options.TokenAuthFile, time);
        var states = new MeshStateSource(state.Store, registry, loggers.CreateLogger<MeshStateSource>(), jwks: new Jwks.JwksResolver(loggers.CreateLogger<Jwks.JwksResolver>(), time), trustDomain: options.Certificates.TrustDomain);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedHostLifetime>();
        builder.Services.AddSingleton(loggers);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddSingleton(state.Store);
        builder.Services.AddSingleton(registry);
        builder.Services.AddSingleton(state.Reports);
        builder.Services.AddSingleton(state.Leadership);
        builder.Services.AddSingleton(states);
        builder.Services.AddSingleton(new Events.EventLog(time));
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(ca);
        builder.Services.AddSingleton(tokens);
        builder.Services.AddSingleton(new Auth.NodeAuthenticator(ca, time));
        builder.Services.AddSingleton<SnapshotCache>();
        builder.Services.AddSingleton<PushServer>();
        builder.Services.AddSingleton<ApplyService>();
        builder.Services.AddSingleton(new RevisionScalers(time));
        builder.Services.AddSingleton<UsageLedger>();
        builder.Services.AddHttpClient("agent");
        // Replicas share the CA, so a follower checks the leader's API certificate with its own roots.
        builder.Services.AddHttpClient(LeaderForwarding.ClientName).ConfigurePrimaryHttpMessageHandler(() =>
            Trellis.Api.Access.ControlPlaneTrust.FromRoots(ca.Roots).Apply(new SocketsHttpHandler { UseProxy = false }));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(options.ApiEndpoint, l =>
            {
                l.Protocols = HttpProtocols.Http1;
                tls?.Serve(l, System.Net.Security.SslApplicationProtocol.Http11);
            });
            k.Listen(options.PushEndpoint, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                tls?.Serve(l, System.Net.Security.SslApplicationProtocol.Http2);
            });
            k.Limits.MaxRequestBodySize = 16 * 1024 * 1024;
        });

        ServingController? serving = null;
        builder.Services.AddSingleton(_ => serving!);
        var app = builder.Build();
        Auth.ApiAuthentication.Use(app); // first: a follower forwards to the leader only what it let in
        LeaderForwarding.Use(app);
        ResourceEndpoints.Map(app);
        MeshEndpoints.Map(app);
        ServingEndpoints.Map(app);
        CaEndpoints.Map(app);
        Auth.TokenEndpoints.Map(app);
        app.MapPost("/push/v1/stream", (HttpContext c, PushServer push) => push.HandleAsync(c));
        EventingHost? eventing = null;
        app.MapGet("/eventing/v1/calls", () => Results.Json(new { items = eventing?.Calls ?? [] }));
        await app.StartAsync(cancellationToken);

        // With etcd, nodes expire with their leases; the embedded registry expires them by its own clock.
        var expiry = state.Reports is LocalNodeReports
            ? time.CreateTimer(_ => registry.ExpireStale(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5))
            : null;
        // Leader-only work writes through a store that refuses writes once leadership is lost and fences those on the way.
        var leaderStore = new Leadership.LeaderStore(state.Store, state.Leadership);
        serving = new ServingController(leaderStore, registry, app.Services.GetRequiredService<RevisionScalers>(), time, loggers.CreateLogger<ServingController>(), options.ServingTick, state.Leadership);
        var gatewayApi = new GatewayApi.GatewayApiController(state.Store, states, options.GatewayAddresses, time, loggers.CreateLogger<GatewayApi.GatewayApiController>());
        var scheduler = new Scheduling.SchedulerController(leaderStore, registry, state.Leadership, time, loggers.CreateLogger<Scheduling.SchedulerController>());
        eventing = options.Eventing is { } eventingOptions
            ? await EventingHost.StartAsync(
                eventingOptions with { TrustDomain = options.Certificates.TrustDomain }, options.DataDirectory, state.Store, registry, loggers, time, () => state.Leadership.IsLeader,
                new OwnIdentity(ca, SpiffeId.Parse(PeerAuthentications.BrokerIdentity(options.Certificates.TrustDomain)), time), cancellationToken)
            : null;
        states.SetAsyncFunctions(eventing?.IngressUrl); // gateways route /async-function/ to the eventing listener
        var events = new Events.EventRecorder(states, app.Services.GetRequiredService<Events.EventLog>());
        var host = new ControlPlaneHost(app, state, states, expiry, serving, gatewayApi, scheduler, eventing, events) { Ca = ca, Tokens = tokens };
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        host.ApiUrl = new Uri(Resolve(addresses, options.ApiEndpoint, scheme, first: true));
        host.PushUrl = new Uri(Resolve(addresses, options.PushEndpoint, scheme, first: false));
        state.Start(host.ApiUrl.ToString().TrimEnd('/'));
        return host;
    }

    private int _disposed;

    /// <summary>Stops the replica; idempotent (a test may stop a leader and then dispose everything).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (_expiry is not null)
        {
            await _expiry.DisposeAsync();
        }

        await _events.DisposeAsync();
        if (_eventing is not null)
        {
            await _eventing.DisposeAsync();
        }

        await _serving.DisposeAsync();
        await _gatewayApi.DisposeAsync();
        await _scheduler.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _states.DisposeAsync();
        await _state.DisposeAsync();
    }

    /// <summary>The CA: the operator's plug-in directory, or a root of its own in the data directory; a CA that cannot be used stops the start.</summary>
    private static CaService OpenCa(ControlPlaneOptions options, TimeProvider time, Func<string, string, string, string?> mayHold)
    {
        if (options.Certificates.Problem() is { } policyProblem)
        {
            throw new InvalidOperationException("certificate policy: " + policyProblem);
        }

        var own = Path.Combine(options.DataDirectory, "ca");
        var (material, errors) = CaStore.Open(options.CaDirectory, own, options.Certificates.TrustDomain, time);
        if (material is null)
        {
            throw new InvalidOperationException("the certificate authority cannot start: " + string.Join("; ", errors));
        }

        var token = JoinToken.Open(options.JoinToken, own);
        return new CaService(new CertificateAuthority(material, time), token, options.Certificates, options.CaDirectory ?? own, time, mayHold,
            ownDirectory: options.CaDirectory is null ? own : null);
    }

    /// <summary>Kestrel reports bound addresses in listen order; port 0 endpoints get their real port there.</summary>
    private static string Resolve(List<string> addresses, IPEndPoint requested, string scheme, bool first)
    {
        if (requested.Port != 0)
        {
            return $"{scheme}://{requested}";
        }

        return first ? addresses[0] : addresses[^1];
    }
}

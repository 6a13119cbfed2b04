using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trellis.Agent.Metering;
using Trellis.Agent.Replicas;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.Proxy;
using Trellis.Proxy.Discovery;
using Trellis.Runtime;

namespace Trellis.Agent;

/// <summary>
/// The agent of one host: runs the Deployments the control plane holds as local processes, reports
/// their instances to the registry, serves their logs, and hosts the node proxy that gives each
/// instance its inbound and outbound listeners (pushed by the control plane).
/// </summary>
public sealed partial class AgentHost : IAsyncDisposable
{
    private readonly Supervisor _supervisor;
    private readonly ProxyServer _proxy;
    private readonly PushClient _push;
    private readonly WebApplication _logs;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly ILogger _log;
    private string _node = "";
    private RegistryReporter? _reporter;
    private ServingReporter? _serving;
    private UsageCollector? _usage;
    private Identity.CertificateManager? _certificates;
    private Capture.NodeCapture? _capture;

    /// <summary>The agent's own server: instance logs and the node proxy's admin (<c>/explain</c>, <c>/stats/prometheus</c>).</summary>
    public Uri AdminUrl { get; private init; } = null!;

    private AgentHost(Supervisor supervisor, ProxyServer proxy, PushClient push, WebApplication logs, HttpClient http, ILogger log)
    {
        _supervisor = supervisor;
        _proxy = proxy;
        _push = push;
        _logs = logs;
        _http = http;
        _log = log;
    }

    public Supervisor Supervisor => _supervisor;

    public ProxyServer Proxy => _proxy;

    public static async Task<AgentHost> StartAsync(AgentOptions options, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        var log = loggers.CreateLogger<AgentHost>();
        var token = options.JoinToken ?? throw new ArgumentException("an agent needs the control plane's join token: the API accepts an agent only with its node identity");
        Capture.NodeCapture? capture = null;
        if (options.CapturePort is { } capturePort)
        {
            // Before any connection is made: the agent's and its proxy's own connections must carry the mark the rules let through.
            try
            {
                Trellis.Proxy.Capture.OwnTraffic.Enable(Trellis.Proxy.Capture.OwnTraffic.DefaultMark);
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw new IOException($"--capture: the agent cannot mark its own connections (SO_MARK needs root or CAP_NET_ADMIN): {e.Message}", e);
            }

            capture = await Capture.NodeCapture.InstallAsync(capturePort, Trellis.Proxy.Capture.OwnTraffic.DefaultMark, log, cancellationToken);
        }

        try
        {
            return await StartAsync(options, loggers, log, token, capture, cancellationToken);
        }
        catch
        {
            // Rules without the agent would send the node's traffic to a port nobody listens on.
            if (capture is not null)
            {
                await capture.DisposeAsync();
            }

            throw;
        }
    }

    private static async Task<AgentHost> StartAsync(AgentOptions options, ILoggerFactory loggers, ILogger log, string token, Capture.NodeCapture? capture, CancellationToken cancellationToken)
    {
        // Every request the agent, its node proxy and its reporters send is signed with the node key (docs/security.md).
        var credential = new Identity.NodeCredential(TimeProvider.System);
        if (options.Trust is { } trust)
        {
            // A pinned CA is checked before the join token is sent anywhere.
            await trust.ResolveAsync(options.Servers[0], cancellationToken);
        }

        var http = new HttpClient(new Trellis.Api.Access.CredentialHandler(credential, ReplicaFailoverHandler.Create(options.Servers, options.Trust))) { BaseAddress = options.Servers[0], Timeout = Timeout.InfiniteTimeSpan };
        var supervisor = new Supervisor(new SupervisorOptions
        {
            DataDirectory = options.DataDirectory,
            DrainDelay = options.DrainDelay,
            PoolSize = options.PoolSize,
            PoolHostPath = options.PoolHostPath,
        }, loggers);
        var tcpPorts = new TcpServicePorts();
        supervisor.ExtraEnv = (spec, ports) => MeshEnv(ports, tcpPorts.Env(spec.Namespace, ports));
        // A previous agent on this data directory that was killed left its workloads running: stop them
        // before anything starts, so the node never runs two copies (Runtime/Records).
        await supervisor.ReapPreviousAsync(TimeSpan.FromSeconds(10), cancellationToken);
        var proxy = new ProxyServer(new ProxyServerOptions { NodeName = "node/" + options.Node }, loggers);
        var logs = await StartLogsServerAsync(supervisor, proxy, IPAddress.Parse(options.Address), cancellationToken);
        var agentUrl = logs.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        // The node proxy's admin endpoints (route explain, /stats/prometheus) are served by the agent's own server.
        var hello = new Dictionary<string, string>();
        if (options.CapturePort is { } port)
        {
            hello[ProxyHello.CapturePortLabel] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var push = new PushClient(options.Pushes, new ProxyHello("node/" + options.Node, ProxyRole.Node, options.Node, hello, agentUrl),
            proxy.ApplyAsync, loggers.CreateLogger<PushClient>(), credential, options.Trust);

        var host = new AgentHost(supervisor, proxy, push, logs, http, log) { _node = options.Node, AdminUrl = new Uri(agentUrl), _capture = capture };
        if (capture is not null)
        {
            supervisor.Changed += capture.OnInstancesChanged;
        }

        host._certificates = new Identity.CertificateManager(http, options.Node, token, proxy.Identities, TimeProvider.System, log, credential) { ControlPlaneTrust = options.Trust };
        host._certificates.Start();

        var reporter = new RegistryReporter(http, options, () => agentUrl, log) { TcpPorts = tcpPorts, InboundServing = proxy.IsListening };
        proxy.SnapshotApplied += reporter.OnProxyApplied;
        host._reporter = reporter;
        var meter = InstanceMeters.Create(options.Meter, out var meterNote);
        LogMeter(log, meter.Kind, meterNote);
        host._usage = new UsageCollector(meter, () => supervisor.Instances);
        supervisor.Changed += host._usage.OnInstancesChanged;
        host._serving = new ServingReporter(proxy, options.Servers, reportLoad: true, log, "node/" + options.Node, host._usage, credential, options.Trust);
        supervisor.Changed += reporter.Update;
        var watcher = new ResourceWatcher(http, "/apis/apps/v1/deployments", host.Reconcile, log);
        var services = new ResourceWatcher(http, "/api/v1/services", tcpPorts.OnServices, log);
        var entries = new ResourceWatcher(http, "/apis/networking.istio.io/v1/serviceentries", tcpPorts.OnServiceEntries, log);
        push.Start();
        host._loops.Add(reporter.RunAsync(host._stop.Token));
        host._loops.Add(services.RunAsync(host._stop.Token));
        host._loops.Add(entries.RunAsync(host._stop.Token));
        host._loops.Add(WatchDeploymentsAsync(watcher, tcpPorts, host._stop.Token));
        reporter.Update([]);
        return host;
    }

    /// <summary>Graceful stop: instances get SIGTERM and their grace period, then the proxy closes.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _supervisor.StopAllAsync();
        await Task.WhenAll(_loops);
        await _supervisor.DisposeAsync();
        if (_serving is not null)
        {
            await _serving.DisposeAsync();
        }

        _usage?.Dispose();
        if (_certificates is not null)
        {
            await _certificates.DisposeAsync();
        }

        await _push.DisposeAsync();
        await _proxy.DisposeAsync();
        await _logs.StopAsync();
        await _logs.DisposeAsync();
        if (_capture is not null)
        {
            await _capture.DisposeAsync(); // the rules go with the agent: the node's traffic flows uncaptured again
        }

        _reporter?.Dispose();
        _http.Dispose();
        _stop.Dispose();
    }

    /// <summary>
    /// Workloads reach the mesh through their instance's outbound listener, as an HTTP proxy, and its TCP services through
    /// the ports <paramref name="tcp"/> announces (<see cref="TcpServicePorts"/>).
    /// </summary>
    private static Dictionary<string, string> MeshEnv(IReadOnlyDictionary<string, int> ports, Dictionary<string, string> tcp)
    {
        var proxy = $"http://127.0.0.1:{ports[WorkloadInstance.OutboundPort]}";
        tcp["HTTP_PROXY"] = proxy;
        tcp["http_proxy"] = proxy;
        tcp["NO_PROXY"] = "localhost,127.0.0.1";
        tcp["no_proxy"] = "localhost,127.0.0.1";
        return tcp;
    }

    /// <summary>Deployments are run once the Services and ServiceEntries are known, so that the first instances get their TCP services' variables.</summary>
    private static async Task WatchDeploymentsAsync(ResourceWatcher deployments, TcpServicePorts tcpPorts, CancellationToken stop)
    {
        try
        {
            await tcpPorts.Loaded.WaitAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        await deployments.RunAsync(stop);
    }

    private void Reconcile(IReadOnlyList<Resource> deployments)
    {
        var desired = new List<WorkloadSpec>();
        var accounts = new List<(string, string)>();
        foreach (var d in deployments)
        {
            var (workload, error) = DeploymentTranslator.Translate(d, _node);
            if (workload is null)
            {
                LogCannotRun(_log, d.Key.ToString(), error ?? "");
                continue;
            }

            desired.Add(workload);
            if (workload.Replicas > 0 && d.Spec is Trellis.Api.Workloads.DeploymentSpec spec)
            {
                // Every service account this node runs gets a certificate (Kubernetes' default account when none is named).
                accounts.Add((d.Key.Namespace, spec.Template.Spec.ServiceAccountName ?? "default"));
            }
        }

        _supervisor.Reconcile(desired);
        _certificates?.Want(accounts);
    }

    /// <summary>The agent's own API (instance logs, the node proxy's admin), on the node's address so a control plane on another host can reach it.</summary>
    private static async Task<WebApplication> StartLogsServerAsync(Supervisor supervisor, ProxyServer proxy, IPAddress address, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedHostLifetime>();
        builder.WebHost.ConfigureKestrel(k => k.Listen(address, 0));
        var app = builder.Build();
        Trellis.Proxy.Admin.ProxyAdmin.Map(app, proxy);
        app.MapGet("/logs/{instance}", async (HttpContext c, string instance) =>
        {
            var status = supervisor.Instances.FirstOrDefault(i => i.Id == instance);
            if (status is null)
            {
                c.Response.StatusCode = 404;
                await c.Response.WriteAsync($"no instance {instance} on this node\n");
                return;
            }

            c.Response.ContentType = "text/plain; charset=utf-8";
            var follow = c.Request.Query.ContainsKey("follow");
            try
            {
                await foreach (var line in LogReader.ReadAsync(status.LogPath, follow, c.RequestAborted))
                {
                    await c.Response.WriteAsync(line + "\n", c.RequestAborted);
                    if (follow)
                    {
                        await c.Response.Body.FlushAsync(c.RequestAborted);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        await app.StartAsync(cancellationToken);
        return app;
    }

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "Metering instances with {Meter} {Note}")]
    private static partial void LogMeter(ILogger log, string meter, string note);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "Cannot run {Deployment}: {Reason}")]
    private static partial void LogCannotRun(ILogger log, string deployment, string reason);
}

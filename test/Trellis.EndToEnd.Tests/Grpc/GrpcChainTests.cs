using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Trellis.Samples.Grpc;

namespace Trellis.EndToEnd.Tests.Grpc;

/// <summary>
/// A gRPC call chain through the real binary: the sample service (samples/grpc) deployed as <c>front</c> and as two
/// versions of <c>back</c>, behind Service ports named <c>grpc</c>, so the compiler chooses HTTP/2 upstreams end to end;
/// a GAMMA <c>GRPCRoute</c> splits calls to <c>back</c> 80/20 between its versions. The test calls <c>front</c> through
/// front's own outbound listener, as a workload would, and front calls back through it again.
/// </summary>
public sealed class GrpcChainTests : IAsyncLifetime
{
    private const int Port = 50051;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-grpc-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(10) };
    private TrellisProcess _up = null!;
    private ControlPlaneApi _api = null!;
    private GrpcChannel? _channel;

    private static string Workload(string name, string app, string version) => $"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          selector:
            matchLabels:
              app: {app}
              version: {version}
          template:
            metadata:
              labels:
                app: {app}
                version: {version}
            spec:
              containers:
              - name: chain
                command: ["dotnet", "CHAIN_DLL"]
                env:
                - name: NAME
                  value: {app}
                - name: VERSION
                  value: {version}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
        spec:
          selector:
            app: {app}
            version: {version}
          ports:
          - name: grpc
            port: {Port}
        """;

    private const string BackService = """
        apiVersion: v1
        kind: Service
        metadata: {name: back}
        spec:
          selector: {app: back}
          ports: [{name: grpc, port: 50051}]
        """;

    private const string Split = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: back-split}
        spec:
          parentRefs: [{group: "", kind: Service, name: back, port: 50051}]
          rules:
          - backendRefs: [{name: back-v1, port: 50051, weight: 80}, {name: back-v2, port: 50051, weight: 20}]
        """;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var api = FreePorts.Next();
        _api = new ControlPlaneApi(_http, $"http://127.0.0.1:{api}", "grpc");
        _up = TrellisProcess.Start("up", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--pool-size", "0");
        try
        {
            await Eventually.WaitAsync(_api.HealthyAsync, TimeSpan.FromSeconds(60), "the API", _up);
            var dll = Path.Combine(TrellisBinary.RepoRoot, "samples", "grpc", "bin", "chain.dll");
            var yaml = string.Join("\n---\n", Workload("front", "front", "v1"), Workload("back-v1", "back", "v1"), Workload("back-v2", "back", "v2"), BackService, Split);
            await _api.ApplyAsync(yaml.Replace("CHAIN_DLL", dll, StringComparison.Ordinal));
            var outbound = await _api.OutboundPortAsync(_up, deployment: "front");
            _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{outbound}", new GrpcChannelOptions
            {
                HttpHandler = new Authority($"front:{Port}") { InnerHandler = new SocketsHttpHandler { UseProxy = false } },
            });
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        await _up.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Chain_ThroughTheMesh_WeightsStatusTrailersDeadlinesAndStreams()
    {
        var client = new Chain.ChainClient(_channel!);
        var toBack = new HopRequest { Route = { $"back:{Port}" } };
        await WaitForAsync(client, toBack);

        // The GRPCRoute's 80/20 split, within four standard deviations of a binomial sample.
        const int n = 200;
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < n; i++)
        {
            var reply = await client.HopAsync(toBack, deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.Equal("front/v1", reply.Path[0]);
            counts[reply.Path[1]] = counts.GetValueOrDefault(reply.Path[1]) + 1;
        }

        var v2 = counts.GetValueOrDefault("back/v2");
        Assert.True(Math.Abs(v2 - (0.2 * n)) <= 4 * Math.Sqrt(n * 0.2 * 0.8) && v2 + counts.GetValueOrDefault("back/v1") == n,
            string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}")));

        // A status and its trailers come back from the last hop through both proxies.
        var failed = await Assert.ThrowsAsync<RpcException>(() => client.HopAsync(new HopRequest(toBack) { FailCode = (int)StatusCode.NotFound }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, failed.StatusCode);
        Assert.StartsWith("back/", failed.Trailers.GetValue("x-failed-by"), StringComparison.Ordinal);

        // The caller's deadline travels with the call (grpc-timeout) and ends it while the last hop waits.
        var late = await Assert.ThrowsAsync<RpcException>(() =>
            client.HopAsync(new HopRequest(toBack) { DelayMs = 5000 }, deadline: DateTime.UtcNow.AddMilliseconds(500)).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, late.StatusCode);

        // Server streaming, relayed by front.
        using var call = client.Stream(new HopRequest(toBack) { Count = 5 }, deadline: DateTime.UtcNow.AddSeconds(10));
        var indexes = new List<int>();
        await foreach (var reply in call.ResponseStream.ReadAllAsync())
        {
            Assert.Equal("front/v1", reply.Path[0]);
            indexes.Add(reply.Index);
        }

        Assert.Equal([0, 1, 2, 3, 4], indexes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    /// <summary>Until the route and both backs are served: every workload starts on its own.</summary>
    private async Task WaitForAsync(Chain.ChainClient client, HopRequest request)
    {
        var seen = new HashSet<string>();
        var last = "";
        try
        {
            await WaitAsync();
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"seen: {string.Join(", ", seen)}; last: {last}. {e.Message}", e);
        }

        Task WaitAsync() => Eventually.WaitAsync(async () =>
        {
            try
            {
                var reply = await client.HopAsync(request, deadline: DateTime.UtcNow.AddSeconds(5));
                seen.Add(string.Join(" ", reply.Path));
            }
            catch (RpcException e)
            {
                last = e.Status.ToString();
            }

            return seen.Contains("front/v1 back/v1") && seen.Contains("front/v1 back/v2");
        }, TimeSpan.FromSeconds(90), "front calling both backs", _up);
    }

    /// <summary>Calls go to the outbound listener with the called service's authority, which the listener routes by.</summary>
    private sealed class Authority(string authority) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Host = authority;
            return base.SendAsync(request, cancellationToken);
        }
    }
}

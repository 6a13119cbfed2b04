using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>What a conformance case can do, after upstream's conformance utilities: wait for status, send requests.</summary>
public sealed class ConformanceRun(ConformanceMesh mesh) : IDisposable
{
    public const string Infra = ConformanceMesh.Infra;
    private const int ConsecutiveSuccesses = 3;
    private static readonly TimeSpan Consistency = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(10) };

    public Task<string> GatewayAsync(string name, string ns = Infra) => mesh.GatewayAddressAsync(ns, name);

    /// <summary>GatewayAndHTTPRoutesMustBeAccepted: the Gateway is programmed and each route Accepted by it; returns its address.</summary>
    public async Task<string> AcceptedAsync(string gateway, params string[] routes) => await AcceptedInAsync(gateway, Infra, routes.Select(r => (Infra, r)).ToArray());

    public async Task<string> AcceptedInAsync(string gateway, string gatewayNs, params (string Ns, string Name)[] routes)
    {
        var address = await GatewayAsync(gateway, gatewayNs);
        foreach (var (ns, name) in routes)
        {
            await ParentConditionAsync(ns, name, gatewayNs, gateway, "Accepted", "True", null);
        }

        return address;
    }

    /// <summary>HTTPRouteMustHaveCondition / HTTPRouteMustHaveParents: the route's status for that parent has the condition.</summary>
    public Task ParentConditionAsync(string ns, string route, string parentNs, string parent, string type, string status, string? reason, string kind = "httproutes") =>
        Eventually.WaitAsync(async () =>
        {
            var json = await mesh.GetAsync(kind, ns, route);
            var generation = (long?)json?["metadata"]?["generation"];
            return (json?["status"]?["parents"] as JsonArray ?? []).Any(p =>
                (string?)p?["parentRef"]?["name"] == parent && (string?)p?["parentRef"]?["namespace"] == parentNs
                && (string?)p?["controllerName"] == "trellis.dev/gateway-controller"
                && (p?["conditions"] as JsonArray ?? []).Any(c => (string?)c?["type"] == type && (string?)c?["status"] == status
                    && (reason is null || (string?)c?["reason"] == reason) && (long?)c?["observedGeneration"] == generation));
        }, TimeSpan.FromSeconds(30), $"{route}: {type}={status} {reason} for {parentNs}/{parent}", mesh.Up);

    public Task ResolvedRefsAsync(string route, string gateway) => ParentConditionAsync(Infra, route, Infra, gateway, "ResolvedRefs", "True", "ResolvedRefs");

    /// <summary>GatewayStatusMustHaveListeners, for the fields Trellis is checked on: attachedRoutes and conditions.</summary>
    public Task ListenerAsync(string gateway, string listener, int attachedRoutes, params (string Type, string Status, string? Reason)[] conditions) =>
        Eventually.WaitAsync(async () =>
        {
            var json = await mesh.GetAsync("gateways", Infra, gateway);
            var entry = (json?["status"]?["listeners"] as JsonArray ?? []).FirstOrDefault(l => (string?)l?["name"] == listener);
            return entry is not null && (int?)entry["attachedRoutes"] == attachedRoutes
                && conditions.All(c => ConformanceMesh.HasCondition(entry["conditions"], c.Type, c.Status, c.Reason));
        }, TimeSpan.FromSeconds(30), $"{gateway}/{listener}: attachedRoutes {attachedRoutes}", mesh.Up);

    /// <summary>MakeRequestAndExpectEventuallyConsistentResponse for each expectation, through the gateway at <paramref name="address"/>:80.</summary>
    public async Task ExpectAsync(string address, params Expectation[] expectations)
    {
        foreach (var e in expectations)
        {
            await ConsistentlyAsync(() => e, x => SendAsync(address, 80, x.Request), 80);
        }
    }

    /// <summary>
    /// MakeTLSRequestAndExpectEventuallyConsistentResponse: each expectation over TLS to <paramref name="address"/>:443
    /// with <paramref name="sni"/> as the server name (which may differ from the Host field), trusting only the
    /// suite's certificate.
    /// </summary>
    public async Task ExpectTlsAsync(string address, string sni, params Expectation[] expectations)
    {
        foreach (var e in expectations)
        {
            await ConsistentlyAsync(() => e, x => GatewayTls.SendAsync(address, sni, mesh.GatewayCertificate, x.Request), 443);
        }
    }

    /// <summary>
    /// The same for requests that must differ on every try (upstream regenerates a uuid per probe, as the retry cases
    /// do): <paramref name="next"/> makes each try's expectation.
    /// </summary>
    public Task ExpectEachTimeAsync(string address, Func<Expectation> next) => ConsistentlyAsync(next, e => SendAsync(address, 80, e.Request), 80);

    /// <summary>ExpectMirroredRequest: every pod of <paramref name="backend"/> in the infra namespace logged a request for <paramref name="path"/>.</summary>
    public Task MirroredAsync(string backend, string path) =>
        Eventually.WaitAsync(async () =>
        {
            var logs = await TrellisProcess.RunAsync(mesh.Api.Server, "logs", "-n", Infra, backend);
            return logs.Exit == 0 && logs.Stdout.Split('\n').Any(l => l.StartsWith($"echo GET {path} ", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(30), $"{backend} received the mirrored {path}", mesh.Up);

    /// <summary>The same, from inside the mesh: sent by the client workload (echo-v1) to its outbound listener.</summary>
    public async Task ExpectMeshAsync(params Expectation[] expectations)
    {
        var port = await mesh.Api.OutboundPortAsync(mesh.Up, ConformanceMesh.MeshNamespace, "echo-v1");
        foreach (var e in expectations)
        {
            await ConsistentlyAsync(() => e, x => SendAsync("127.0.0.1", port, x.Request), 80);
        }
    }

    /// <summary>Send <paramref name="count"/> requests and count the answers by backend (the pod name less its instance suffix).</summary>
    public async Task<Dictionary<string, int>> SampleAsync(string address, int port, ConformanceRequest request, int count)
    {
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < count; i++)
        {
            var captured = await SendAsync(address, port, request);
            var pod = (string?)captured.Echo?["pod"] ?? $"status {captured.Status}";
            var backend = pod.Contains('-', StringComparison.Ordinal) && captured.Echo is not null ? pod[..pod.LastIndexOf('-')] : pod;
            counts[backend] = counts.GetValueOrDefault(backend) + 1;
        }

        return counts;
    }

    public Task<int> MeshClientPortAsync() => mesh.Api.OutboundPortAsync(mesh.Up, ConformanceMesh.MeshNamespace, "echo-v1");

    private static async Task ConsistentlyAsync(Func<Expectation> next, Func<Expectation, Task<Captured>> send, int gatewayPort)
    {
        var expected = next();
        var deadline = DateTime.UtcNow + Consistency;
        var streak = 0;
        string? last = null;
        while (streak < ConsecutiveSuccesses)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"{expected}: not consistently seen within {Consistency.TotalSeconds} s; last: {last}");
            }

            var captured = await send(expected);
            last = ExpectationCheck.Compare(expected, captured, gatewayPort);
            expected = next();
            streak = last is null ? streak + 1 : 0;
            if (last is not null)
            {
                await Task.Delay(200);
            }
        }
    }

    public async Task<Captured> SendAsync(string address, int port, ConformanceRequest request)
    {
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), $"http://{address}:{port}{request.Path}");
        message.Headers.Host = request.Host ?? (port == 80 ? address : $"{address}:{port}");
        foreach (var (name, value) in request.Headers ?? new Dictionary<string, string>())
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            using var response = await _http.SendAsync(message);
            var body = await response.Content.ReadAsStringAsync();
            var headers = response.Headers.Concat(response.Content.Headers)
                .ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
            JsonObject? echo = null;
            try
            {
                echo = response.Content.Headers.ContentType?.MediaType == "application/json" ? JsonNode.Parse(body) as JsonObject : null;
            }
            catch (System.Text.Json.JsonException)
            {
            }

            return new Captured((int)response.StatusCode, response.Headers.Location, headers, echo);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException)
        {
            return new Captured(0, null, new Dictionary<string, string>(), null);
        }
    }

    public void Dispose() => _http.Dispose();
}

using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// An echo server with the contract of the Gateway API conformance suite's echo-basic: every request is answered
// with a JSON description of what arrived (path, host, method, protocol, headers) and where it arrived (namespace,
// pod), so a test can tell which backend a route picked and what the proxy changed on the way. Also:
// /status/NNN answers NNN, ?delay=DURATION waits first, and X-Echo-Set-Header: Name:Value[,Name:Value] sets
// response headers. It listens on $PORT (HTTP/1.1) and, when set, $H2C_PORT (HTTP/2 with prior knowledge).
// For the traffic-policy tests, an instance can misbehave on its own: $FAIL_PERCENT answers 503 to that share of
// requests, spread evenly (exactly N of every 100, never two in a row below 50 %); $DELAY waits before every answer;
// $LOG_REQUESTS=1 (or the argument --log-requests=1) prints one line per request ("echo GET /path host") for
// `trellis logs`. The retry simulation of echo-basic: ?responseCode=NNN&succeedAfter=N&uuid=ID answers NNN to the
// first N requests carrying that uuid and echoes from then on, so a test can tell how many attempts a proxy made.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var port = int.Parse(Environment.GetEnvironmentVariable("PORT") ?? "3000", CultureInfo.InvariantCulture);
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.ListenLocalhost(port, l => l.Protocols = HttpProtocols.Http1);
    if (Environment.GetEnvironmentVariable("H2C_PORT") is { Length: > 0 } h2c)
    {
        k.ListenLocalhost(int.Parse(h2c, CultureInfo.InvariantCulture), l => l.Protocols = HttpProtocols.Http2);
    }
});

var context = new EchoContext(
    Environment.GetEnvironmentVariable("NAMESPACE") ?? "",
    Environment.GetEnvironmentVariable("INGRESS_NAME") ?? "",
    Environment.GetEnvironmentVariable("SERVICE_NAME") ?? "",
    // The downward API's POD_NAME when set, else the instance's HOSTNAME, which is its pod name.
    Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod : Environment.GetEnvironmentVariable("HOSTNAME") ?? "");
var failPercent = int.Parse(Environment.GetEnvironmentVariable("FAIL_PERCENT") ?? "0", CultureInfo.InvariantCulture);
TimeSpan? fixedDelay = Environment.GetEnvironmentVariable("DELAY") is { Length: > 0 } d && Durations.TryParse(d, out var parsed) ? parsed : null;
var logRequests = Environment.GetEnvironmentVariable("LOG_REQUESTS") == "1" || args.Contains("--log-requests=1");
long served = 0;
var attemptsByUuid = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
var app = builder.Build();
app.MapGet("/health", () => "OK");
app.Run(async http =>
{
    var request = http.Request;
    var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path + request.QueryString;
    if (logRequests)
    {
        Console.WriteLine($"echo {request.Method} {target} {request.Host}");
    }

    if (fixedDelay is { } everyTime)
    {
        await Task.Delay(everyTime, http.RequestAborted);
    }

    // Request n fails when n·p/100 crosses an integer: exactly p of every 100, evenly spread.
    var n = Interlocked.Increment(ref served);
    if (failPercent > 0 && n * failPercent / 100 != (n - 1) * failPercent / 100)
    {
        http.Response.StatusCode = 503;
        return;
    }

    if (StatusPath().Match(request.Path.Value ?? "") is { Success: true } status)
    {
        http.Response.StatusCode = int.Parse(status.Groups[1].Value, CultureInfo.InvariantCulture);
        return;
    }

    if (request.Query["uuid"].ToString() is { Length: > 0 } uuid
        && int.TryParse(request.Query["responseCode"], CultureInfo.InvariantCulture, out var failWith)
        && int.TryParse(request.Query["succeedAfter"], CultureInfo.InvariantCulture, out var failures)
        && attemptsByUuid.AddOrUpdate(uuid, 1, (_, seen) => seen + 1) <= failures)
    {
        http.Response.StatusCode = failWith;
        return;
    }

    if (request.Query["delay"].ToString() is { Length: > 0 } delay)
    {
        if (!Durations.TryParse(delay, out var wait))
        {
            http.Response.StatusCode = 500;
            await http.Response.WriteAsJsonAsync(new { message = $"time: invalid duration \"{delay}\"" }, EchoJson.Default.Options);
            return;
        }

        await Task.Delay(wait, http.RequestAborted);
    }

    var headers = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
    foreach (var (name, values) in request.Headers)
    {
        if (!name.Equals("Host", StringComparison.OrdinalIgnoreCase))
        {
            headers[Canonical(name)] = [.. values.Select(v => v ?? "")];
        }
    }

    foreach (var setting in request.Headers["X-Echo-Set-Header"].SelectMany(v => (v ?? "").Split(',')))
    {
        var pair = setting.Trim().Split(':', 2);
        var value = pair.Length > 1 ? pair[1].Trim() : "";
        http.Response.Headers[pair[0]] = http.Response.Headers.TryGetValue(pair[0], out var existing) && existing.Count > 0 ? existing + "," + value : value;
    }

    var echo = new EchoResponse(target, request.Host.Value ?? "", request.Method, request.Protocol, headers,
        context.Namespace, context.Ingress, context.Service, context.Pod);
    http.Response.Headers["X-Content-Type-Options"] = "nosniff";
    http.Response.ContentType = "application/json";
    await JsonSerializer.SerializeAsync(http.Response.Body, echo, EchoJson.Default.EchoResponse, http.RequestAborted);
});
app.Run();

// Go's canonical header names (x-header-set → X-Header-Set), as echo-basic reports them.
static string Canonical(string name) =>
    string.Join('-', name.Split('-').Select(p => p.Length == 0 ? p : char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));

internal sealed record EchoContext(string Namespace, string Ingress, string Service, string Pod);

internal sealed record EchoResponse(
    string Path,
    string Host,
    string Method,
    string Proto,
    SortedDictionary<string, string[]> Headers,
    string Namespace,
    string Ingress,
    string Service,
    string Pod);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(EchoResponse))]
internal sealed partial class EchoJson : System.Text.Json.Serialization.JsonSerializerContext;

internal sealed partial class Program
{
    [GeneratedRegex(@"^/status/(\d\d\d)$")]
    private static partial Regex StatusPath();
}

/// <summary>Go's time.ParseDuration for the delay parameter: 500ms, 1s, 1.5s.</summary>
internal static class Durations
{
    public static bool TryParse(string s, out TimeSpan value)
    {
        value = default;
        var m = Regex.Match(s, @"^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$");
        if (!m.Success)
        {
            return false;
        }

        var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        value = m.Groups[2].Value switch
        {
            "ns" => TimeSpan.FromTicks((long)(n / 100)),
            "us" => TimeSpan.FromTicks((long)(n * 10)),
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            _ => TimeSpan.FromHours(n),
        };
        return true;
    }
}

// Sample functions for Trellis serving, following the Knative runtime contract: listen on $PORT
// (or on the socket the agent passes, when socket-activated),
// answer HTTP, finish in-flight requests on SIGTERM (Kestrel's graceful shutdown does), and say
// "READY=1" on $NOTIFY_SOCKET once listening (systemd's sd_notify protocol), so the agent marks the
// instance ready at that moment instead of at its next readiness probe.
//   hello  "Hello <TARGET>!" from <K_REVISION>
//   cpu    CPU-bound: counts primes below ?n= (default 200000)
//   slow   waits ?ms= milliseconds (default 1000) before answering
//   stubborn  answers like hello but ignores SIGTERM, breaking the contract on purpose: the platform
//             must SIGKILL it after the grace period
//   events    a CloudEvents consumer: logs each event (type, id, source, data) and answers 202, or
//             500 when FAIL=true (for dead-letter demos)
//   producer  on each request, publishes a CloudEvent (type com.example.order.created, an amount
//             from ?amount=) to $K_SINK, Knative's sink variable, with the extensions of
//             $K_CE_OVERRIDES (both set by a SinkBinding), and says what the sink answered
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

var function = args.Length > 0 ? args[0] : "hello";
// No reload of appsettings*.json on change: the host would set up a FileSystemWatcher over the
// content root (the working directory, subdirectories included) that the functions, which read
// no settings files, never use. It was half of the Native AOT build's start: 45 -> 23 ms of CPU
// until ready (docs/benchmarks.md, Serving).
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
builder.Logging.ClearProviders();
var port = Environment.GetEnvironmentVariable("PORT") ?? "8080";
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
// Socket activation (serving.trellis.dev/socket-activation: "true"): the agent passes the port
// already listening as fd 3 with LISTEN_FDS/LISTEN_PID, and Kestrel serves it instead of binding
// PORT (an explicit endpoint overrides the URL above); without those variables this does nothing.
builder.WebHost.ConfigureKestrel(kestrel => kestrel.UseSystemd());
var revision = Environment.GetEnvironmentVariable("K_REVISION") ?? "local";
if (function == "stubborn")
{
    // Neither the host's lifetime nor the runtime's default action may end the process on SIGTERM.
    builder.Services.AddSingleton<IHostLifetime, IgnoringLifetime>();
}

var app = builder.Build();
app.Lifetime.ApplicationStarted.Register(ReadinessNotice.Send);
switch (function)
{
    case "stubborn":
        app.MapFallback(() => $"Hello, I ignore SIGTERM ({revision})\n");
        break;
    case "hello":
        var target = Environment.GetEnvironmentVariable("TARGET") ?? "World";
        app.MapFallback(() => $"Hello {target}! ({revision})\n");
        break;
    case "cpu":
        app.MapFallback((HttpRequest r) =>
        {
            var n = int.TryParse(r.Query["n"], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? Math.Clamp(v, 2, 50_000_000) : 200_000;
            return $"{CountPrimes(n)} primes below {n} ({revision})\n";
        });
        break;
    case "slow":
        app.MapFallback(async (HttpRequest r, CancellationToken ct) =>
        {
            var ms = int.TryParse(r.Query["ms"], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? Math.Clamp(v, 0, 600_000) : 1000;
            await Task.Delay(ms, ct);
            return $"waited {ms} ms ({revision})\n";
        });
        break;
    case "events":
        var fail = Environment.GetEnvironmentVariable("FAIL") == "true";
        app.MapFallback(async (HttpRequest r) =>
        {
            using var reader = new StreamReader(r.Body);
            var data = await reader.ReadToEndAsync();
            Console.WriteLine($"{(fail ? "refusing" : "received")} {r.Headers["ce-type"]} id={r.Headers["ce-id"]} source={r.Headers["ce-source"]} data={data}"
                + (r.Headers.TryGetValue("ce-knativeerrorcode", out var code) ? $" (dead letter: {r.Headers["ce-knativeerrordest"]} answered {code})" : ""));
            return fail ? Results.StatusCode(500) : Results.StatusCode(202);
        });
        break;
    case "producer":
        var sink = Environment.GetEnvironmentVariable("K_SINK");
        // Knative's K_CE_OVERRIDES: {"extensions":{"name":"value"}}, applied to every event the source sends.
        var overrides = Environment.GetEnvironmentVariable("K_CE_OVERRIDES") is { Length: > 0 } json
            ? System.Text.Json.Nodes.JsonNode.Parse(json)?["extensions"]?.AsObject().Select(e => (e.Key, Value: (string?)e.Value ?? "")).ToList() ?? []
            : [];
        using (var http = new HttpClient())
        {
            app.MapFallback(async (HttpRequest r) =>
            {
                if (sink is null)
                {
                    return Results.Problem("K_SINK is not set", statusCode: 500);
                }

                var amount = int.TryParse(r.Query["amount"], NumberStyles.None, CultureInfo.InvariantCulture, out var a) ? a : 42;
                using var message = new HttpRequestMessage(HttpMethod.Post, sink) { Content = new StringContent($"{{\"amount\":{amount}}}", System.Text.Encoding.UTF8, "application/json") };
                message.Headers.Add("ce-specversion", "1.0");
                message.Headers.Add("ce-id", Guid.NewGuid().ToString());
                message.Headers.Add("ce-source", $"/producer/{revision}");
                message.Headers.Add("ce-type", "com.example.order.created");
                message.Headers.Add("ce-amount", amount.ToString(CultureInfo.InvariantCulture));
                foreach (var (name, value) in overrides)
                {
                    message.Headers.Add("ce-" + name, value);
                }

                using var answer = await http.SendAsync(message);
                return Results.Text($"published an order of {amount}: the sink answered {(int)answer.StatusCode}\n");
            });
            await app.RunAsync();
        }

        return 0;
    default:
        Console.Error.WriteLine($"unknown function '{function}': use hello, cpu, slow, stubborn, events or producer");
        return 2;
}

await app.RunAsync();
return 0;

static int CountPrimes(int below)
{
    var composite = new bool[below];
    var count = 0;
    for (var i = 2; i < below; i++)
    {
        if (composite[i])
        {
            continue;
        }

        count++;
        for (long j = (long)i * i; j < below; j += i)
        {
            composite[j] = true;
        }
    }

    return count;
}

/// <summary>
/// systemd's readiness notification (sd_notify(3)): one "READY=1" datagram to the Unix socket named
/// by NOTIFY_SOCKET ('@' for the abstract namespace). Without the variable it does nothing; a failure
/// is ignored, because the agent's readiness probe still finds the port.
/// </summary>
internal static class ReadinessNotice
{
    public static void Send()
    {
        var path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path));
            socket.Send("READY=1"u8);
        }
        catch (SocketException)
        {
        }
    }
}

/// <summary>A host lifetime that swallows SIGTERM (and SIGINT), logging each one, and never stops the host.</summary>
internal sealed class IgnoringLifetime : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Console.Error.WriteLine($"stubborn: ignoring {context.Signal}");
            }));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}

// Sample functions for Trellis serving, following the Knative runtime contract: listen on $PORT,
// answer HTTP, finish in-flight requests on SIGTERM (Kestrel's graceful shutdown does).
//   hello  "Hello <TARGET>!" from <K_REVISION>
//   cpu    CPU-bound: counts primes below ?n= (default 200000)
//   slow   waits ?ms= milliseconds (default 1000) before answering
using System.Globalization;

var function = args.Length > 0 ? args[0] : "hello";
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
var port = Environment.GetEnvironmentVariable("PORT") ?? "8080";
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
var app = builder.Build();
var revision = Environment.GetEnvironmentVariable("K_REVISION") ?? "local";

switch (function)
{
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
    default:
        Console.Error.WriteLine($"unknown function '{function}': use hello, cpu or slow");
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

using System.Net.Http.Headers;
using System.Runtime.CompilerServices;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// The API tokens of the control planes the tests start. Every trellis the tests run inherits TRELLIS_CONFIG, pointed
/// at a config file of this test run (never the real ~/.trellis/config): each <c>trellis up</c> or <c>controlplane</c>
/// adds a context with its admin token there, the CLI verbs the tests run find it by <c>--server</c>, and the tests'
/// own HTTP clients find it here, by the request's host and port.
/// </summary>
public static class ApiTokens
{
    private static readonly string Directory = Path.Combine(Path.GetTempPath(), "trellis-e2e-config-" + Guid.NewGuid().ToString("N"));

    public static string ConfigPath => Path.Combine(Directory, "config");

#pragma warning disable CA2255 // a module initializer: the variable must be set before any test starts a process
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void PointConfigAtTestRun()
    {
        Environment.SetEnvironmentVariable("TRELLIS_CONFIG", ConfigPath);
        Environment.SetEnvironmentVariable("TRELLIS_TOKEN", null);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        };
    }

    private sealed record Parsed(DateTime Written, Dictionary<string, string> Tokens);

    private static Parsed _cache = new(default, new(StringComparer.OrdinalIgnoreCase));

    /// <summary>The admin token of the control plane at <paramref name="server"/> (<c>http://127.0.0.1:PORT</c>), or null before it wrote its context.</summary>
    public static string? For(string server)
    {
        if (!File.Exists(ConfigPath))
        {
            return null;
        }

        var cache = Volatile.Read(ref _cache);
        var written = File.GetLastWriteTimeUtc(ConfigPath);
        if (written != cache.Written)
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(ConfigPath);
            }
            catch (IOException)
            {
                return null; // being replaced this instant: the caller polls
            }

            // The file as ClientConfig writes it: "- name: '…'", "  server: '…'", "  token: '…'".
            var tokens = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? current = null;
            foreach (var line in lines)
            {
                var trimmed = line.TrimStart('-', ' ');
                if (trimmed.StartsWith("server: ", StringComparison.Ordinal))
                {
                    current = Unquote(trimmed["server: ".Length..]).TrimEnd('/');
                }
                else if (trimmed.StartsWith("token: ", StringComparison.Ordinal) && current is not null)
                {
                    tokens[current] = Unquote(trimmed["token: ".Length..]);
                }
            }

            cache = new Parsed(written, tokens);
            Volatile.Write(ref _cache, cache);
        }

        return cache.Tokens.GetValueOrDefault(server.TrimEnd('/'));
    }

    private static string Unquote(string value) => value.Trim().Trim('\'').Replace("''", "'", StringComparison.Ordinal);

    /// <summary>Adds the admin token of the request's control plane (none for a gateway or a workload: no context names them).</summary>
    public static void Authorize(HttpRequestMessage request)
    {
        if (request.RequestUri is { IsAbsoluteUri: true } uri && request.Headers.Authorization is null
            && For(uri.GetLeftPart(UriPartial.Authority)) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>An HTTP client whose requests to a test's control plane carry its admin token.</summary>
    public static HttpClient Client(Uri? baseAddress = null) => new(Wrap(new SocketsHttpHandler { UseProxy = false })) { BaseAddress = baseAddress };

    /// <summary><paramref name="inner"/>, with the admin token added to requests for a test's control plane (and only those).</summary>
    public static HttpMessageHandler Wrap(HttpMessageHandler inner) => new Handler(inner);

    private sealed class Handler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Authorize(request);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Trellis.Cli.Roles;

/// <summary>Options and helpers the long-running roles share.</summary>
public static class RoleOptions
{
    /// <summary>The workload certificates' lifetime (<c>trellis controlplane</c> and <c>trellis up</c>, which run the CA).</summary>
    public static Option<int> CertLifetime() => new("--cert-lifetime") { DefaultValueFactory = _ => 86400, Description = "Seconds a workload certificate is valid (renewed at half of it)" };

    public static Option<string> DataDir() => new("--data-dir") { Description = "Where state and logs are kept", DefaultValueFactory = _ => ".trellis" };

    /// <summary>The control plane's HTTP API (<c>--server</c>, env <c>TRELLIS_SERVER</c>).</summary>
    public static Option<string> Server() => new("--server", "-s")
    {
        Description = "Control plane API URL, or a comma-separated list of replicas (env TRELLIS_SERVER)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRELLIS_SERVER") ?? "http://127.0.0.1:15000",
    };

    /// <summary>
    /// The bearer token for the API (<c>--token</c>, else env <c>TRELLIS_TOKEN</c>: see <see cref="TokenOf"/>); client verbs
    /// fall back to the config's context. No default value: help would print it.
    /// </summary>
    public static Option<string?> Token() => new("--token")
    {
        Description = "Bearer token for the control plane's API (env TRELLIS_TOKEN; client verbs default to the context's token in ~/.trellis/config or TRELLIS_CONFIG)",
    };

    /// <summary>--token, else TRELLIS_TOKEN; null when neither is set.</summary>
    public static string? TokenOf(ParseResult parse, Option<string?> token) =>
        parse.GetValue(token) is { Length: > 0 } given ? given
            : Environment.GetEnvironmentVariable("TRELLIS_TOKEN") is { Length: > 0 } env ? env : null;

    /// <summary><c>--ca-file</c> (env <c>TRELLIS_CA_FILE</c>): the PEM roots an https control plane's certificate must chain to.</summary>
    public static Option<string?> CaFile() => new("--ca-file")
    {
        Description = "PEM file of the CA an https control plane's certificate chains to (env TRELLIS_CA_FILE; client verbs default to the context's certificate-authority)",
    };

    /// <summary><c>--ca-cert-hash</c> (kubeadm's <c>--discovery-token-ca-cert-hash</c>): pins the CA at join when no CA file is at hand.</summary>
    public static Option<string?> CaCertHash() => new("--ca-cert-hash")
    {
        Description = "sha256:<hex> of the control plane's root public key (trellis ca status prints it): an https control plane is trusted only if its CA bundle has that root",
    };

    /// <summary>
    /// How the certificate of an https control plane at <paramref name="servers"/> is checked: the pin (<paramref name="pin"/>,
    /// agents and proxies) if given; else --ca-file or TRELLIS_CA_FILE; else what <paramref name="fromConfig"/> finds (the
    /// CLI config's <c>certificate-authority</c>, <c>Verbs.Common.CaFromConfig</c>, which trellis-proxy does not compile);
    /// else null (the system's roots). Error: why the option or file is unusable.
    /// </summary>
    public static (Trellis.Api.Access.ControlPlaneTrust? Trust, string? Error) TrustOf(ParseResult parse, Option<string?> caFile, IReadOnlyList<Uri> servers,
        Option<string?>? pin = null, Func<IReadOnlyList<Uri>, (string? File, string? Error)>? fromConfig = null)
    {
        if (pin is not null && parse.GetValue(pin) is { Length: > 0 } hash)
        {
            return Trellis.Api.Access.ControlPlaneTrust.PinProblem(hash) is { } problem ? (null, "--ca-cert-hash: " + problem) : (Trellis.Api.Access.ControlPlaneTrust.Pinned(hash), null);
        }

        var file = parse.GetValue(caFile) is { Length: > 0 } given ? given
            : Environment.GetEnvironmentVariable("TRELLIS_CA_FILE") is { Length: > 0 } env ? env
            : null;
        if (file is null && fromConfig is not null && servers.Any(s => s.Scheme == Uri.UriSchemeHttps))
        {
            (file, var configError) = fromConfig(servers);
            if (configError is not null)
            {
                return (null, configError);
            }
        }

        try
        {
            return (file is null ? null : Trellis.Api.Access.ControlPlaneTrust.FromFile(file), null);
        }
        catch (InvalidDataException e)
        {
            return (null, e.Message);
        }
    }

    public static Option<string> Push() => new("--push") { Description = "Control plane push endpoint (HTTP/2), or a comma-separated list of replicas", DefaultValueFactory = _ => "http://127.0.0.1:15010" };

    public static Option<int> PoolSize()
    {
        var option = new Option<int>("--pool-size")
        {
            Description = "Idle pre-warmed .NET hosts for workloads annotated serving.trellis.dev/pool: dotnet (0: off)",
            DefaultValueFactory = _ => 2,
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--pool-size must be 0 or more");
            }
        });
        return option;
    }

    public static Option<string> LogLevel() => new("--log-level") { Description = "trace, debug, information, warning, error", DefaultValueFactory = _ => "information" };

    public static ILoggerFactory Loggers(string level)
    {
        var min = Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(level, ignoreCase: true, out var l) ? l : Microsoft.Extensions.Logging.LogLevel.Information;
        return LoggerFactory.Create(b => b
            .SetMinimumLevel(min)
            .AddFilter("Microsoft", Microsoft.Extensions.Logging.LogLevel.Warning)
            .AddFilter("System", Microsoft.Extensions.Logging.LogLevel.Warning)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                // Milliseconds: a cold start's stages (demand, scale, spawn, ready, push, release) are milliseconds apart.
                o.TimestampFormat = "HH:mm:ss.fff ";
            }));
    }

    public static IPEndPoint Endpoint(string value, string option) =>
        IPEndPoint.TryParse(value, out var endpoint) ? endpoint : throw new ArgumentException($"{option}: {value} is not an address:port");

    // Held for the life of the process: a registration that is garbage-collected unregisters its handler.
    private static readonly List<System.Runtime.InteropServices.PosixSignalRegistration> SignalRegistrations = [];

    /// <summary>Completes on Ctrl-C (SIGINT) or SIGTERM, so a role can shut down in order and leave no process behind.</summary>
    public static Task ShutdownRequested()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var signal in new[] { System.Runtime.InteropServices.PosixSignal.SIGINT, System.Runtime.InteropServices.PosixSignal.SIGTERM })
        {
            SignalRegistrations.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create(signal, c =>
            {
                c.Cancel = true;
                done.TrySetResult();
            }));
        }

        return done.Task;
    }
}

using System.Text.Json;

namespace Trellis.Runtime.Pool;

/// <summary>
/// Decides whether an instance may start in a pre-warmed pool host instead of a new process. Only
/// what a started host can still become qualifies: <c>dotnet app.dll ...</c> run by the same
/// <c>dotnet</c> as the pool, framework-dependent on this runtime's major version with the shared
/// frameworks the host has (Microsoft.NETCore.App, Microsoft.AspNetCore.App), no server GC and no
/// runtime knobs in the environment (<c>DOTNET_*</c>, <c>COMPlus_*</c>: the runtime read those when
/// the host started). Anything else starts as a plain process, which is always correct.
/// </summary>
internal static class PoolEligibility
{
    /// <summary>The value of <see cref="WorkloadSpec.Pool"/> that asks for a .NET pool host.</summary>
    public const string Dotnet = "dotnet";

    private static readonly HashSet<string> SharedFrameworks = new(StringComparer.Ordinal) { "Microsoft.NETCore.App", "Microsoft.AspNetCore.App" };

    /// <summary>The launch, or null with the reason why this start cannot use the pool.</summary>
    /// <param name="spec">The workload; only <see cref="WorkloadSpec.Pool"/> = "dotnet" opts in.</param>
    /// <param name="executable">The resolved command.</param>
    /// <param name="workingDirectory">Absolute; relative dll paths resolve against it.</param>
    /// <param name="poolDotnet">The dotnet the pool hosts run on.</param>
    /// <param name="runtimeMajor">The pool hosts' runtime major version.</param>
    public static (PoolLaunch? Launch, string? Reason) Check(WorkloadSpec spec, string executable, string workingDirectory, string poolDotnet, int runtimeMajor)
    {
        if (spec.Pool != Dotnet)
        {
            return (null, "not opted in");
        }

        if (RealPath(executable) != RealPath(poolDotnet))
        {
            return (null, $"the command is '{executable}', not the pool's '{poolDotnet}'");
        }

        if (spec.Args.Count == 0 || !spec.Args[0].EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || spec.Args[0].StartsWith('-'))
        {
            return (null, "the command is not 'dotnet APP.dll ...'");
        }

        var knob = spec.Env.Keys.FirstOrDefault(k => k.StartsWith("COMPlus_", StringComparison.OrdinalIgnoreCase)
            || k.StartsWith("CORECLR_", StringComparison.OrdinalIgnoreCase)
            || (k.StartsWith("DOTNET_", StringComparison.OrdinalIgnoreCase) && k != "DOTNET_ENVIRONMENT"));
        if (knob is not null)
        {
            return (null, $"env {knob} configures the runtime, which a pool host has already started");
        }

        var assembly = Path.GetFullPath(spec.Args[0], workingDirectory);
        var config = Path.ChangeExtension(assembly, ".runtimeconfig.json");
        if (!File.Exists(assembly) || !File.Exists(config))
        {
            return (null, $"'{assembly}' or its runtimeconfig.json does not exist");
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(config));
            var options = document.RootElement.GetProperty("runtimeOptions");
            var frameworks = new List<JsonElement>();
            if (options.TryGetProperty("framework", out var single))
            {
                frameworks.Add(single);
            }

            if (options.TryGetProperty("frameworks", out var many))
            {
                frameworks.AddRange(many.EnumerateArray());
            }

            if (frameworks.Count == 0)
            {
                return (null, "not a framework-dependent app");
            }

            foreach (var framework in frameworks)
            {
                var name = framework.GetProperty("name").GetString() ?? "";
                var version = framework.GetProperty("version").GetString() ?? "";
                if (!SharedFrameworks.Contains(name) || !Version.TryParse(version, out var v) || v.Major != runtimeMajor)
                {
                    return (null, $"framework {name} {version}: the pool hosts run {string.Join(" and ", SharedFrameworks)} {runtimeMajor}");
                }
            }

            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            if (options.TryGetProperty("configProperties", out var configProperties))
            {
                foreach (var property in configProperties.EnumerateObject())
                {
                    properties[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
                }
            }

            if (properties.TryGetValue("System.GC.Server", out var server) && server == "true")
            {
                return (null, "the app asks for server GC; pool hosts run workstation GC");
            }

            return (new PoolLaunch(assembly, spec.Args.Skip(1).ToArray(), properties), null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            return (null, $"'{config}' cannot be read: {e.Message}");
        }
    }

    private static string RealPath(string path)
    {
        try
        {
            return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);
        }
        catch (IOException)
        {
            return Path.GetFullPath(path);
        }
    }
}

using System.CommandLine;
using Trellis.Cli.Client;

namespace Trellis.Cli.Verbs;

/// <summary>Options every client verb shares, and the one place that turns failures into exit codes.</summary>
public static class Common
{
    /// <summary><see cref="Roles.RoleOptions.Server"/>, valid on every verb.</summary>
    public static readonly Option<string> Server = Global(ServerFromConfig(Roles.RoleOptions.Server()));

    /// <summary><see cref="Roles.RoleOptions.Token"/>, valid on every verb.</summary>
    public static readonly Option<string?> Token = Global(Roles.RoleOptions.Token());

    /// <summary>
    /// <c>--ca-file</c> (env <c>TRELLIS_CA_FILE</c>): the PEM roots an https API's certificate must chain to; client verbs
    /// default to the context's <c>certificate-authority</c>, which <c>trellis up --api-tls</c> writes.
    /// </summary>
    public static readonly Option<string?> CaFile = Global(Roles.RoleOptions.CaFile());

    private static Option<T> Global<T>(Option<T> option)
    {
        option.Recursive = true;
        return option;
    }

    /// <summary>Without --server or TRELLIS_SERVER, the current context's server (kubectl's current-context), then loopback.</summary>
    private static Option<string> ServerFromConfig(Option<string> option)
    {
        option.DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRELLIS_SERVER") is { Length: > 0 } env ? env
            : CurrentContextServer() ?? "http://127.0.0.1:15000";
        return option;
    }

    private static string? CurrentContextServer()
    {
        try
        {
            return ClientConfig.Load().Current?.Server;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return null; // the verb reports the config's problem when it looks for its token
        }
    }

    /// <summary>
    /// The token for <paramref name="servers"/>: --token or TRELLIS_TOKEN; else the config's context for that server
    /// (so <c>--server</c> picks the token that goes with it, as each <c>trellis up</c> adds a context of its own);
    /// else the current context's. Null when there is none.
    /// </summary>
    public static string? ResolveToken(ParseResult parse, IReadOnlyList<Uri> servers)
    {
        if (Roles.RoleOptions.TokenOf(parse, Token) is { } given)
        {
            return given;
        }

        ClientConfig config;
        try
        {
            config = ClientConfig.Load();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new InputException("the CLI config cannot be read: " + e.Message);
        }

        return servers.Select(s => config.ForServer(s.ToString())?.Token).FirstOrDefault(t => t is not null) ?? config.Current?.Token;
    }

    /// <summary>The trust for an https API at <paramref name="servers"/> (<see cref="Roles.RoleOptions.TrustOf"/>); a file that cannot be read is an <see cref="InputException"/>.</summary>
    public static Trellis.Api.Access.ControlPlaneTrust? ResolveTrust(ParseResult parse, IReadOnlyList<Uri> servers)
    {
        var (trust, error) = Roles.RoleOptions.TrustOf(parse, CaFile, servers, fromConfig: CaFromConfig);
        return error is null ? trust : throw new InputException(error);
    }

    /// <summary>The CLI config's <c>certificate-authority</c> for <paramref name="servers"/>: the context of that server, else the current context's.</summary>
    public static (string? File, string? Error) CaFromConfig(IReadOnlyList<Uri> servers)
    {
        try
        {
            var config = ClientConfig.Load();
            return (servers.Select(s => config.ForServer(s.ToString())?.CertificateAuthority).FirstOrDefault(c => c is not null) ?? config.Current?.CertificateAuthority, null);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return (null, "the CLI config cannot be read: " + e.Message);
        }
    }

    public static Option<string> Namespace() => new("--namespace", "-n")
    {
        Description = "Namespace",
        DefaultValueFactory = _ => "default",
    };

    public static Option<string[]> Files(string description) => new("--filename", "-f")
    {
        Description = description,
        Required = true,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Runs a verb against the control plane, mapping failures to the documented exit codes.</summary>
    public static async Task<int> RunAsync(ParseResult parse, Func<ControlPlaneClient, Task<int>> verb)
    {
        var (servers, error) = Trellis.Agent.Replicas.ReplicaList.Parse(parse.GetValue(Server)!, "--server");
        if (error is not null)
        {
            await Console.Error.WriteLineAsync("error: " + error);
            return ExitCodes.Usage;
        }

        try
        {
            using var client = new ControlPlaneClient(servers, ResolveToken(parse, servers), ResolveTrust(parse, servers));
            return await verb(client);
        }
        catch (UnreachableException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Unreachable;
        }
        catch (ApiException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Rejected;
        }
        catch (InputException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return ExitCodes.Usage;
        }
    }

    /// <summary>Reads `-f` arguments: files, directories (their *.yaml, *.yml, *.json in name order) or `-` for stdin.</summary>
    public static async Task<List<(string Source, string Text)>> ReadInputsAsync(IEnumerable<string> paths)
    {
        var inputs = new List<(string, string)>();
        foreach (var path in paths)
        {
            if (path == "-")
            {
                inputs.Add(("<stdin>", await Console.In.ReadToEndAsync()));
            }
            else if (Directory.Exists(path))
            {
                var files = Directory.EnumerateFiles(path)
                    .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal);
                foreach (var f in files)
                {
                    inputs.Add((f, await File.ReadAllTextAsync(f)));
                }
            }
            else if (File.Exists(path))
            {
                inputs.Add((path, await File.ReadAllTextAsync(path)));
            }
            else
            {
                throw new InputException($"{path}: no such file or directory");
            }
        }

        return inputs;
    }
}

public sealed class InputException(string message) : Exception(message);

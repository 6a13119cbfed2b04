using System.CommandLine;
using Trellis.Cli.Client;

namespace Trellis.Cli.Verbs;

/// <summary>Options every client verb shares, and the one place that turns failures into exit codes.</summary>
public static class Common
{
    /// <summary><see cref="Roles.RoleOptions.Server"/>, valid on every verb.</summary>
    public static readonly Option<string> Server = Global(Roles.RoleOptions.Server());

    private static Option<string> Global(Option<string> option)
    {
        option.Recursive = true;
        return option;
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

        using var client = new ControlPlaneClient(servers);
        try
        {
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

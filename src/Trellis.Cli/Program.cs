using System.CommandLine;
using Trellis.Cli;
using Trellis.Cli.Roles;
using Trellis.Cli.Verbs;

// Before anything opens a socket: the server roles' runtime settings (inline socket completions).
ServerRuntime.Apply(args);

var root = new RootCommand("Trellis: a service mesh and serverless platform in one binary")
{
    UpRole.Create(),
    ServerRoles.ControlPlane(),
    ServerRoles.Agent(),
    GatewayRole.Create(Common.Server, Common.Token, Common.CaFile),
    ApplyVerbs.Apply(),
    GetVerbs.Get(),
    GetVerbs.Describe(),
    ApplyVerbs.Delete(),
    LogsVerb.Create(),
    ApplyVerbs.Analyze(),
    InvokeVerb.Create(),
    UsageVerb.Create(),
    RouteVerb.Create(),
    StatVerb.Stat(),
    StatVerb.Edges(),
    TapVerb.Create(),
    TopVerb.Create(),
    CaVerb.Create(),
    TokenVerb.Create(),
    TokenVerb.Auth(),
};
root.Options.Add(Common.Server);
root.Options.Add(Common.Token);
root.Options.Add(Common.CaFile);
// The long-running roles shut down in order on SIGINT/SIGTERM themselves (workloads get their grace
// period); System.CommandLine's own handler would end the process after 2 s, leaving children behind.
var parse = root.Parse(args);
if (CommandLine.Errors(parse) is { Count: > 0 } errors)
{
    // A wrong command line is exit code 2 (README, "Exit codes"); System.CommandLine's own answer is 1.
    foreach (var error in errors)
    {
        await Console.Error.WriteLineAsync("error: " + error);
    }

    await Console.Error.WriteLineAsync($"Run '{CommandLine.Path(parse)} --help' for usage.");
    return ExitCodes.Usage;
}

try
{
    return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
}
catch (ArgumentException e)
{
    // An option value the roles check as they start (an address, a URL): a usage error in one line.
    await Console.Error.WriteLineAsync("error: " + e.Message);
    return ExitCodes.Usage;
}
catch (IOException e)
{
    // Most often a port already in use: say so in one line, not with a stack trace.
    await Console.Error.WriteLineAsync("error: " + e.Message);
    return ExitCodes.Rejected;
}

using System.CommandLine;
using Trellis.Cli;
using Trellis.Cli.Roles;

// trellis-proxy: `trellis proxy` without the verb, compiled ahead of time (no JIT, no IL, a trimmed
// framework) so that a proxy costs megabytes, not tens of them. docs/benchmarks.md.

// Before anything opens a socket: inline socket completions, as for the CLI's server roles.
ServerRuntime.Apply();

var server = RoleOptions.Server();
var token = RoleOptions.Token();
var caFile = RoleOptions.CaFile();
var root = new RootCommand("trellis-proxy: " + GatewayRole.Description) { server, token, caFile };
GatewayRole.Configure(root, server, token, caFile);
try
{
    // As the CLI: the role shuts down in order on SIGINT/SIGTERM itself.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
}
catch (IOException e)
{
    // Most often a port already in use: say so in one line, not with a stack trace.
    await Console.Error.WriteLineAsync("error: " + e.Message);
    return ExitCodes.Rejected;
}

using System.CommandLine;
using Trellis.Cli.Roles;
using Trellis.Cli.Verbs;

var root = new RootCommand("Trellis: a service mesh and serverless platform in one binary")
{
    UpRole.Create(),
    ServerRoles.ControlPlane(),
    ServerRoles.Agent(),
    GatewayRole.Create(),
    ApplyVerbs.Apply(),
    GetVerbs.Get(),
    GetVerbs.Describe(),
    ApplyVerbs.Delete(),
    LogsVerb.Create(),
    ApplyVerbs.Analyze(),
};
root.Options.Add(Common.Server);
return await root.Parse(args).InvokeAsync();

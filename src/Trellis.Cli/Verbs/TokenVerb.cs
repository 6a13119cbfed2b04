using System.CommandLine;
using System.Text.Json.Nodes;
using Trellis.Api.Access;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>trellis token create|list|revoke</c> (admin; k3s's <c>token</c> verbs with Kubernetes' roles) and
/// <c>trellis auth whoami</c> (<c>kubectl auth whoami</c>).
/// </summary>
public static class TokenVerb
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "Who holds the token; for role proxy, the proxy's --name (e.g. gateway/east)" };
        var role = new Option<string>("--role") { Description = "view, edit, admin or proxy", Required = true };
        role.AcceptOnlyFromAmong([.. ApiRoles.Names]);
        var create = new Command("create", "Make a token; it is printed once and kept only as its SHA-256") { name, role };
        create.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["role"] = parse.GetValue(role) }.ToJsonString();
            var response = await client.SendAsync(HttpMethod.Post, "/auth/v1/tokens", body, ct);
            if (!response.Ok)
            {
                throw new ApiException(response.Status, response.Message);
            }

            Console.WriteLine((string?)response.Json?["token"]);
            await Console.Error.WriteLineAsync($"token {(string?)response.Json?["id"]} ({(string?)response.Json?["name"]}, role {(string?)response.Json?["role"]}) created: it is shown only now; use it as TRELLIS_TOKEN or --token");
            return ExitCodes.Ok;
        }));

        var list = new Command("list", "The tokens: id, name, role, where they come from (never the tokens themselves)");
        list.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var response = await client.SendAsync(HttpMethod.Get, "/auth/v1/tokens", null, ct);
            if (!response.Ok)
            {
                throw new ApiException(response.Status, response.Message);
            }

            var items = response.Json?["items"] as JsonArray ?? [];
            Console.Write(Table.Render(["ID", "NAME", "ROLE", "SOURCE", "CREATED"],
                items.Select(i => (IReadOnlyList<string>)[Columns.Str(i?["id"]), Columns.Str(i?["name"]), Columns.Str(i?["role"]), Columns.Str(i?["source"]), Columns.Str(i?["created"])])));
            return ExitCodes.Ok;
        }));

        var which = new Argument<string>("token") { Description = "The token's id or name" };
        var revoke = new Command("revoke", "Revoke a token at once: requests with it are refused (401)") { which };
        revoke.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var response = await client.SendAsync(HttpMethod.Delete, "/auth/v1/tokens/" + Uri.EscapeDataString(parse.GetValue(which)!), null, ct);
            if (!response.Ok)
            {
                throw new ApiException(response.Status, response.Message);
            }

            Console.WriteLine(response.Message);
            return ExitCodes.Ok;
        }));
        return new Command("token", "API tokens (roles view, edit, admin as Kubernetes' ClusterRoles; proxy for standalone proxies)") { create, list, revoke };
    }

    public static Command Auth()
    {
        var whoami = new Command("whoami", "Who the API takes this CLI for: the token's name and role");
        whoami.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var response = await client.SendAsync(HttpMethod.Get, "/auth/v1/whoami", null, ct);
            if (!response.Ok)
            {
                throw new ApiException(response.Status, response.Message);
            }

            Console.WriteLine($"{(string?)response.Json?["name"]} (role {(string?)response.Json?["role"]})");
            return ExitCodes.Ok;
        }));
        return new Command("auth", "Inspect the CLI's credential") { whoami };
    }
}

using System.CommandLine;
using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary><c>get</c> and <c>describe</c>: tables, YAML or JSON of what the control plane holds.</summary>
public static class GetVerbs
{
    public static Command Get()
    {
        var types = new Argument<string>("type") { Description = "Resource type(s), comma separated: vs, dr, gw, deploy, svc, pods, endpoints, proxies, ..." };
        var name = new Argument<string?>("name") { Arity = ArgumentArity.ZeroOrOne };
        var ns = Common.Namespace();
        var all = new Option<bool>("--all-namespaces", "-A") { Description = "List across all namespaces" };
        var output = new Option<string>("--output", "-o") { Description = "table (default), wide, yaml, json, name" };
        var command = new Command("get", "Display resources") { types, name, ns, all, output };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var format = parse.GetValue(output) ?? "";
            if (format is not ("" or "wide" or "yaml" or "json" or "name"))
            {
                throw new InputException($"unknown output format {format}");
            }

            var scope = parse.GetValue(all) ? null : parse.GetValue(ns);
            var first = true;
            var requested = parse.GetValue(types)!.Split(',', StringSplitOptions.RemoveEmptyEntries);
            var everything = requested.Any(t => t.Equals("all", StringComparison.OrdinalIgnoreCase));
            if (everything && parse.GetValue(name) is not null)
            {
                throw new InputException("get all takes no name");
            }

            foreach (var type in requested.SelectMany(t => t.Equals("all", StringComparison.OrdinalIgnoreCase) ? Kinds.All : [t]).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                var items = await ListAsync(client, type, scope, parse.GetValue(name), ct);
                if (everything && items.Items.Count == 0)
                {
                    continue; // kubectl get all shows only the kinds that have objects
                }

                if (!first && format is "" or "wide")
                {
                    Console.WriteLine();
                }

                first = false;
                await PrintAsync(client, items.Kind, items.Items, format, scope is null, ct, qualified: everything);
            }

            if (everything && first && format is "" or "wide")
            {
                Console.WriteLine(scope is null ? "No resources found." : $"No resources found in {scope} namespace.");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command Describe()
    {
        var type = new Argument<string>("type");
        var name = new Argument<string>("name");
        var ns = Common.Namespace();
        var command = new Command("describe", "Show a resource in detail, with what the mesh derived from it") { type, name, ns };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var (kind, items) = await ListAsync(client, parse.GetValue(type)!, parse.GetValue(ns), parse.GetValue(name), ct);
            var item = items[0];
            Console.Write(Yaml(item));
            ConditionsPrinter.Print(item, DateTimeOffset.UtcNow, Console.Out);
            await PrintEventsAsync(client, item, ct);
            if (kind == "Service" || kind == "Deployment")
            {
                var related = await ListAsync(client, kind == "Service" ? "endpoints" : "pods", parse.GetValue(ns), null, ct);
                var mine = related.Items.Where(r => kind == "Service"
                    ? Columns.Str(r["metadata"]?["name"]) == parse.GetValue(name)
                    : r["metadata"]?["ownerReferences"]?[0]?["name"]?.GetValue<string>() == parse.GetValue(name)).ToList();
                Console.WriteLine(kind == "Service" ? "Endpoints:" : "Pods:");
                await PrintAsync(client, related.Kind, mine, "wide", false, ct);
            }

            if (EndpointHealth.HostOf(kind, item) is { } host)
            {
                await EndpointHealth.PrintAsync(client, host, ct);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>kubectl describe's <c>Events:</c>: those about the object, and about its pods for a Deployment (their <c>related</c> object).</summary>
    private static async Task PrintEventsAsync(ControlPlaneClient client, JsonNode item, CancellationToken ct)
    {
        var kind = Columns.Str(item["kind"]);
        var name = Columns.Str(item["metadata"]?["name"]);
        var ns = Columns.Str(item["metadata"]?["namespace"]) is { Length: > 0 } n ? n : "default";
        bool About(JsonNode? o) => o is not null && Columns.Str(o["kind"]) == kind && Columns.Str(o["name"]) == name
            && Columns.Str(o["apiVersion"]) == Columns.Str(item["apiVersion"]);
        var events = (await ListAsync(client, "events", ns, null, ct)).Items
            .Where(e => About(e["involvedObject"]) || About(e["related"]))
            .ToList();
        Console.Write("Events:");
        if (events.Count == 0)
        {
            Console.WriteLine(" <none>");
            return;
        }

        Console.WriteLine();
        var columns = Columns.For("Event", DateTimeOffset.UtcNow, []);
        var table = Table.Render(columns.Select(c => c.Header).ToList(), events.Select(e => (IReadOnlyList<string>)columns.Select(c => c.Value(e)).ToList()));
        Console.Write(string.Concat(table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => "  " + line + "\n")));
    }

    private static async Task<(string Kind, List<JsonNode> Items)> ListAsync(ControlPlaneClient client, string type, string? ns, string? name, CancellationToken ct)
    {
        string kind;
        string path;
        if (Kinds.View(type) is { } view)
        {
            (kind, path) = (view, Kinds.ViewPath(view, ns));
        }
        else
        {
            var info = Kinds.Resolve(type);
            (kind, path) = (info.Kind, Kinds.Path(info, info.Namespaced ? ns : null, name is not null && ns is not null ? name : null));
        }

        var response = await client.SendAsync(HttpMethod.Get, path, null, ct);
        if (!response.Ok)
        {
            throw new ApiException(response.Status, response.Message);
        }

        var items = response.Json switch
        {
            JsonArray plain => plain.Where(i => i is not null).Select(i => i!).ToList(),
            JsonObject { } list when list["items"] is JsonArray array => array.Where(i => i is not null).Select(i => i!).ToList(),
            { } single => [single],
            null => [],
        };
        if (name is not null)
        {
            items = items.Where(i => Columns.Str(i["metadata"]?["name"] ?? i["name"]) == name).ToList();
            if (items.Count == 0)
            {
                throw new ApiException(System.Net.HttpStatusCode.NotFound, $"{type} \"{name}\" not found");
            }
        }

        return (kind, items);
    }

    /// <param name="qualified">Name objects <c>kind.group/name</c>, as <c>kubectl get all</c> does (several kinds share a table's reader).</param>
    private static async Task PrintAsync(ControlPlaneClient client, string kind, List<JsonNode> items, string format, bool allNamespaces, CancellationToken ct, bool qualified = false)
    {
        string Named(JsonNode i) => (qualified ? Qualifier(kind, i) : kind.ToLowerInvariant()) + "/" + Columns.Str(i["metadata"]?["name"] ?? i["name"]);

        switch (format)
        {
            case "yaml":
                Console.Write(string.Join("---\n", items.Select(Yaml)));
                return;
            case "json":
                Console.WriteLine(items.Count == 1 ? items[0].ToJsonString(Indented) : new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = new JsonArray(items.Select(i => i.DeepClone()).ToArray()) }.ToJsonString(Indented));
                return;
            case "name":
                foreach (var i in items)
                {
                    Console.WriteLine(Named(i));
                }

                return;
        }

        if (items.Count == 0)
        {
            Console.WriteLine("No resources found.");
            return;
        }

        var pods = kind == "Deployment" ? (await ListAsync(client, "pods", null, null, ct)).Items : [];
        var columnKind = kind == "Service" && items.FirstOrDefault()?["apiVersion"]?.GetValue<string>()?.StartsWith("serving.knative.dev", StringComparison.Ordinal) == true ? "KnativeService" : kind;
        var columns = Columns.For(columnKind, DateTimeOffset.UtcNow, pods).Where(c => format == "wide" || !c.WideOnly).ToList();
        if (qualified)
        {
            columns[0] = new Columns.Column("NAME", Named);
        }

        if (allNamespaces && kind is not ("Proxy" or "Node" or "Call"))
        {
            columns.Insert(0, Columns.Namespace);
        }

        Console.Write(Table.Render(columns.Select(c => c.Header).ToList(), items.Select(i => (IReadOnlyList<string>)columns.Select(c => c.Value(i)).ToList())));
    }

    private static string Qualifier(string kind, JsonNode item)
    {
        var apiVersion = Columns.Str(item["apiVersion"]);
        var group = apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
        return kind.ToLowerInvariant() + (group.Length > 0 ? "." + group : "");
    }

    /// <summary>Stored resources print through the API library's writer; computed views (pods) as plain YAML of their JSON.</summary>
    private static string Yaml(JsonNode item)
    {
        var read = ResourceReader.Read(item.ToJsonString(), "server");
        return !read.HasErrors && read.Resources.Count == 1 ? ResourceWriter.ToYaml(read.Resources[0]) : JsonYaml.Write(item);
    }

    // Relaxed escaping, as ResourceWriter writes: '+' in a timestamp stays '+', not \u002B (JSON allows both).
    private static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

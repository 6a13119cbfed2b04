using System.Text.Json;
using System.Text.Json.Nodes;

namespace Trellis.Cli.Roles.Prometheus;

/// <summary>
/// Prometheus's file-based service discovery (<c>file_sd_configs</c>) for a Trellis mesh: one target group per proxy
/// connected to the control plane (from <c>GET /debug/proxies</c>: each proxy's admin address, scraped at Envoy's
/// <c>/stats/prometheus</c>), and the control plane's own <c>/metrics</c>. Each group names its proxy and role in labels.
/// </summary>
public static class PrometheusTargets
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <param name="proxies">The array <c>/debug/proxies</c> answers (name, role, adminUrl per proxy).</param>
    /// <param name="controlPlane">The control plane's API, which serves <c>/metrics</c>.</param>
    public static string Render(JsonArray proxies, Uri controlPlane)
    {
        var groups = new JsonArray { Group(controlPlane, "/metrics", new() { ["component"] = "controlplane" }) };
        foreach (var proxy in proxies.OfType<JsonObject>().OrderBy(p => (string?)p["name"], StringComparer.Ordinal))
        {
            if ((string?)proxy["adminUrl"] is not { } admin || !Uri.TryCreate(admin, UriKind.Absolute, out var url))
            {
                continue; // a proxy without an admin server cannot be scraped
            }

            groups.Add(Group(url, url.AbsolutePath.TrimEnd('/') + "/stats/prometheus", new()
            {
                ["component"] = "proxy",
                ["proxy"] = (string?)proxy["name"] ?? "",
                ["proxy_role"] = ((string?)proxy["role"] ?? "").ToLowerInvariant(),
            }));
        }

        return groups.ToJsonString(Indented) + "\n";
    }

    private static JsonObject Group(Uri url, string path, Dictionary<string, string> labels)
    {
        var set = new JsonObject { ["__metrics_path__"] = path };
        foreach (var (key, value) in labels)
        {
            set[key] = value;
        }

        return new JsonObject { ["targets"] = new JsonArray($"{url.Host}:{url.Port}"), ["labels"] = set };
    }
}

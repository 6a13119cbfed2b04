namespace Trellis.Agent.Replicas;

/// <summary>Reads <c>--server</c>/<c>--push</c> values: one URL or a comma-separated list of replicas.</summary>
public static class ReplicaList
{
    public static (IReadOnlyList<Uri> Replicas, string? Error) Parse(string value, string option)
    {
        var replicas = new List<Uri>();
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                return ([], $"{option} {value}: \"{part}\" is not an http:// URL");
            }

            replicas.Add(uri);
        }

        return replicas.Count == 0 ? ([], $"{option}: no URL given") : (replicas, null);
    }
}

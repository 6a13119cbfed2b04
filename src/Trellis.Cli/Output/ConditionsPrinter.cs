using System.Text.Json.Nodes;

namespace Trellis.Cli.Output;

/// <summary>
/// The <c>Conditions:</c> section of <c>describe</c>, as kubectl prints it: one row per condition with its
/// status, reason, message and age. Gateway API routes keep conditions per parent, so each parent gets a section.
/// </summary>
public static class ConditionsPrinter
{
    public static void Print(JsonNode resource, DateTimeOffset now, TextWriter output)
    {
        var status = resource["status"];
        Section("Conditions:", status?["conditions"], now, output);
        foreach (var parent in status?["parents"] as JsonArray ?? [])
        {
            var reference = parent?["parentRef"];
            var ns = Columns.Str(reference?["namespace"]);
            Section($"Conditions (parent {(ns.Length > 0 ? ns + "/" : "")}{Columns.Str(reference?["name"])}):", parent?["conditions"], now, output);
        }

        foreach (var listener in status?["listeners"] as JsonArray ?? [])
        {
            Section($"Conditions (listener {Columns.Str(listener?["name"])}):", listener?["conditions"], now, output);
        }
    }

    private static void Section(string title, JsonNode? conditions, DateTimeOffset now, TextWriter output)
    {
        if (conditions is not JsonArray { Count: > 0 } list)
        {
            return;
        }

        output.WriteLine(title);
        var rows = list.Where(c => c is not null).Select(c => (IReadOnlyList<string>)
        [
            "  " + Columns.Str(c!["type"]),
            Columns.Str(c["status"]),
            Columns.Str(c["reason"]),
            c["lastTransitionTime"] is { } t ? Age.Since(Columns.Str(t), now) : "",
            Columns.Str(c["message"]),
        ]);
        output.Write(Table.Render(["  TYPE", "STATUS", "REASON", "AGE", "MESSAGE"], rows));
    }
}

using System.Text.Json.Nodes;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>Prints the control plane's diagnostics one per line, compiler style: <c>file:line:col: error CODE path: message</c>.</summary>
public static class DiagnosticsPrinter
{
    public static int Print(JsonNode? response, TextWriter to)
    {
        var errors = 0;
        if (response?["diagnostics"] is not JsonArray list)
        {
            return 0;
        }

        foreach (var d in list)
        {
            var severity = Columns.Str(d?["severity"]);
            errors += severity == "error" ? 1 : 0;
            var line = (int?)d?["line"] ?? 0;
            var where = line > 0 ? $"{Columns.Str(d?["source"])}:{line}:{(int?)d?["column"] ?? 0}: " : Columns.Str(d?["source"]) is { Length: > 0 } s ? s + ": " : "";
            var about = Columns.Str(d?["resource"]) is { Length: > 0 } r ? $" [{r}]" : "";
            var path = Columns.Str(d?["path"]) is { Length: > 0 } p ? $" {p}:" : "";
            to.WriteLine($"{where}{severity} {Columns.Str(d?["code"])}{about}{path} {Columns.Str(d?["message"])}");
        }

        return errors;
    }
}

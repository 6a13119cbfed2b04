using System.Text.Json.Nodes;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// Prints the control plane's diagnostics one per line, compiler style: <c>file:line:col: error CODE path: message</c>;
/// a YAML syntax error also shows its line with a caret under the column, when the text is at hand.
/// </summary>
public static class DiagnosticsPrinter
{
    private const string YamlSyntax = "TRL0001";

    public static int Print(JsonNode? response, TextWriter to, string? text = null)
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
            if (text is not null && line > 0 && Columns.Str(d?["code"]) == YamlSyntax)
            {
                ShowLine(text, line, (int?)d?["column"] ?? 1, to);
            }
        }

        return errors;
    }

    /// <summary><c>   5 | text of the line</c>, then a caret under the column (1-based), as compilers show a syntax error.</summary>
    private static void ShowLine(string text, int line, int column, TextWriter to)
    {
        var lines = text.Split('\n');
        if (line > lines.Length)
        {
            return;
        }

        var content = lines[line - 1].TrimEnd('\r');
        var number = line.ToString(System.Globalization.CultureInfo.InvariantCulture);
        to.WriteLine($"  {number} | {content}");
        to.WriteLine($"  {new string(' ', number.Length)} | {new string(' ', Math.Clamp(column - 1, 0, content.Length))}^");
    }
}

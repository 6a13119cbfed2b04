namespace Trellis.Cli.Output;

/// <summary>kubectl's plain table: upper-case headers, columns padded by three spaces, no borders.</summary>
public static class Table
{
    public static string Render(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        var lines = new List<string> { Line(headers, widths) };
        lines.AddRange(all.Select(r => Line(r, widths)));
        return string.Join('\n', lines) + "\n";
    }

    private static string Line(IReadOnlyList<string> cells, int[] widths) =>
        string.Join("   ", cells.Select((c, i) => i == cells.Count - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}

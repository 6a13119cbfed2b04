using Trellis.Api.Diagnostics;
using YamlDotNet.Core;

namespace Trellis.Api.Reading;

/// <summary>
/// What binding one document collects: its diagnostics, and the position of every field path it saw, so that
/// findings made later on the typed records (semantic validation) can still point at a line.
/// </summary>
internal sealed class BindContext(string source)
{
    private readonly Dictionary<string, Mark> _marks = new(StringComparer.Ordinal);

    public string Source { get; } = source;

    /// <summary><c>Kind/namespace/name</c> once metadata is read.</summary>
    public string? Resource { get; set; }

    public List<Diagnostic> Diagnostics { get; } = [];

    public int ErrorCount => Diagnostics.Count(d => d.Severity == Severity.Error);

    public void Remember(string path, Mark mark) => _marks.TryAdd(path, mark);

    public void Error(string code, string message, string path, Mark mark) =>
        Diagnostics.Add(new Diagnostic(code, Severity.Error, message, path, Source, (int)mark.Line, (int)mark.Column, Resource));

    /// <summary>The position of <paramref name="path"/>, or of its nearest ancestor that was seen.</summary>
    public Mark Locate(string path)
    {
        var p = path;
        while (p.Length > 0)
        {
            if (_marks.TryGetValue(p, out var mark))
            {
                return mark;
            }

            p = Paths.Parent(p);
        }

        return _marks.TryGetValue("", out var root) ? root : Mark.Empty;
    }
}

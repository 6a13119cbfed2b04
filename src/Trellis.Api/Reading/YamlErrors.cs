namespace Trellis.Api.Reading;

/// <summary>
/// YamlDotNet's syntax errors in plain words. Its messages name the parser's state ("While parsing a
/// block mapping, did not find expected key"); a user needs what is wrong with the line. Messages not
/// known here keep YamlDotNet's text after "malformed YAML:".
/// </summary>
internal static class YamlErrors
{
    private static readonly (string Raw, string Plain)[] Known =
    [
        ("did not find expected key", "this line does not fit the map above it: check its indentation (spaces, aligned with the keys it belongs to) or a missing ':'"),
        ("could not find expected ':'", "a key without ':' (write 'key: value')"),
        ("found invalid mapping", "a 'key:' inside the value above: this line is indented as if it continued that value; indent it like the keys it belongs to, or quote a value that contains ': '"),
        ("mapping values are not allowed in this context", "a ':' where a value was expected: put the key on its own line, or quote a value that contains ': '"),
        ("did not find expected '-' indicator", "this line does not fit the list above it: check its indentation"),
        ("found unexpected end of stream", "the text ends inside a quoted string, or a '[' or '{' that is never closed"),
        ("found character that cannot start any token", "a character that cannot start a value here (a tab used for indentation? YAML indents with spaces)"),
        ("did not find expected ',' or '}'", "a '{ ... }' map that is not closed, or a missing ',' between its entries"),
        ("did not find expected ',' or ']'", "a '[ ... ]' list that is not closed, or a missing ',' between its items"),
        ("did not find expected node content", "a value is missing here"),
        ("found undefined tab character", "a tab used for indentation: YAML indents with spaces"),
        ("invalid tab as indentation", "a tab used for indentation: YAML indents with spaces"),
    ];

    /// <summary>
    /// Where a tab indents a line (1-based line and column), if one does: YamlDotNet reports a tab in
    /// the indentation at the start of the enclosing mapping, often the document's first line.
    /// </summary>
    public static (int Line, int Column)? IndentingTab(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var indent = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
            if (lines[i].AsSpan(0, indent).IndexOf('\t') is >= 0 and var column)
            {
                return (i + 1, column + 1);
            }
        }

        return null;
    }

    public static string Plain(string raw)
    {
        foreach (var (known, plain) in Known)
        {
            if (raw.Contains(known, StringComparison.OrdinalIgnoreCase))
            {
                return plain;
            }
        }

        return "malformed YAML: " + raw;
    }
}

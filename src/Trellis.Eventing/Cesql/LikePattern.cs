namespace Trellis.Eventing.Cesql;

/// <summary>
/// A compiled <c>LIKE</c> pattern (§3.4.3): <c>%</c> is any run of characters, <c>_</c> one character,
/// <c>\%</c> and <c>\_</c> the characters themselves; any other backslash is an ordinary character.
/// </summary>
internal sealed class LikePattern
{
    private const char Literal = 'L';
    private const char Any = '%';
    private const char One = '_';

    private readonly (char Kind, char Char)[] _parts;

    public LikePattern(string pattern)
    {
        var parts = new List<(char, char)>(pattern.Length);
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length && pattern[i + 1] is '%' or '_')
            {
                parts.Add((Literal, pattern[++i]));
            }
            else if (c is '%' or '_')
            {
                parts.Add((c, c));
            }
            else
            {
                parts.Add((Literal, c));
            }
        }

        _parts = [.. parts];
    }

    /// <summary>Greedy wildcard match with backtracking to the last <c>%</c>: linear in practice, never exponential.</summary>
    public bool Matches(string value)
    {
        int v = 0, p = 0, starP = -1, starV = 0;
        while (v < value.Length)
        {
            if (p < _parts.Length && _parts[p].Kind != Any && (_parts[p].Kind == One || _parts[p].Char == value[v]))
            {
                v++;
                p++;
            }
            else if (p < _parts.Length && _parts[p].Kind == Any)
            {
                starP = p++;
                starV = v;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                v = ++starV;
            }
            else
            {
                return false;
            }
        }

        while (p < _parts.Length && _parts[p].Kind == Any)
        {
            p++;
        }

        return p == _parts.Length;
    }
}

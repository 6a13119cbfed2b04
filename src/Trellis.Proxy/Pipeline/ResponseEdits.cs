using Trellis.Proxy.Http1;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// What the pipeline changes in a relayed response head, whatever the engine writes it in: the header operations
/// of the route and the picked destination (<see cref="CompiledRoute.ResponseHeadersFor"/>), fields the pipeline adds
/// itself (CORS, an affinity cookie) and the response flags. Engines drop every upstream field <see cref="Drops(ReadOnlySpan{byte})"/> names (hop-by-hop
/// fields and framing stay their own rule) and write <see cref="GetEnumerator"/>'s fields after the upstream's.
/// </summary>
internal readonly struct ResponseEdits
{
    public ResponseEdits(HeaderOperations? operations, KeyValuePair<string, string>[]? added, ResponseFlags flags)
    {
        Operations = operations;
        Added = added;
        Flags = flags;
    }

    public HeaderOperations? Operations { get; }

    /// <summary>Fields the pipeline adds (CORS headers, Set-Cookie for hash affinity); they replace upstream fields of the same name.</summary>
    public KeyValuePair<string, string>[]? Added { get; }

    public ResponseFlags Flags { get; }

    public bool IsEmpty => Operations is null && Added is null && Flags == ResponseFlags.None;

    /// <summary>Whether the upstream's field of this name is replaced or removed.</summary>
    public bool Drops(ReadOnlySpan<byte> name)
    {
        if (Operations is not null && UpstreamHeadWriter.Replaced(Operations, name))
        {
            return true;
        }

        if (Added is { } added)
        {
            foreach (var (field, _) in added)
            {
                if (HeaderFields.NameEquals(name, field))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <inheritdoc cref="Drops(ReadOnlySpan{byte})"/>
    public bool Drops(string name)
    {
        Span<byte> bytes = stackalloc byte[Math.Min(name.Length, 256)];
        return name.Length <= 256 && System.Text.Encoding.Latin1.GetBytes(name, bytes) == name.Length && Drops(bytes);
    }

    /// <summary>The edits onto Kestrel's response headers (the Kestrel path): operations, then the pipeline's fields and the flags.</summary>
    public void ApplyTo(Microsoft.AspNetCore.Http.IHeaderDictionary headers)
    {
        Operations?.ApplyTo(headers);
        foreach (var (name, value) in Added ?? [])
        {
            headers[name] = value;
        }

        if (Flags != ResponseFlags.None)
        {
            headers[ResponseFlagNames.Header] = Flags.ToShortString();
        }
    }

    /// <summary>Every field to write after the upstream's, in order.</summary>
    public Enumerator GetEnumerator() => new(this);

    /// <summary>Sets, adds, the pipeline's own fields, then the flags header.</summary>
    public struct Enumerator
    {
        private readonly ResponseEdits _edits;
        private int _part;
        private int _index;

        public Enumerator(ResponseEdits edits)
        {
            _edits = edits;
            _part = 0;
            _index = -1;
            Current = default;
        }

        public KeyValuePair<string, string> Current { get; private set; }

        public bool MoveNext()
        {
            while (_part < 4)
            {
                _index++;
                var list = _part switch
                {
                    0 => _edits.Operations?.Set,
                    1 => _edits.Operations?.Add,
                    2 => _edits.Added,
                    _ => null,
                };
                if (_part == 3)
                {
                    _part++;
                    if (_edits.Flags != ResponseFlags.None)
                    {
                        Current = new(ResponseFlagNames.Header, _edits.Flags.ToShortString());
                        return true;
                    }

                    return false;
                }

                if (list is not null && _index < list.Length)
                {
                    Current = list[_index];
                    return true;
                }

                _part++;
                _index = -1;
            }

            return false;
        }
    }
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using Trellis.Api.Observability;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// The values of the request attributes a metric plan's tag expressions read (<see cref="MetricPlan.Captured"/>),
/// numbered per distinct combination, so that a request's series key carries one number for them: a request copies the
/// values from its head into a stack buffer and finds their number with one lookup on those characters, allocating
/// nothing once the combination has been seen. The expressions themselves run once per series, on the values kept here.
/// Bounded: past <see cref="Capacity"/> combinations (a label on a client-chosen value, such as a path or a header) a new
/// one gets number 0, whose attributes read as absent (the label says <c>unknown</c>), instead of growing without end.
/// </summary>
internal sealed class RequestCaptures
{
    public const int Capacity = 10_000;

    /// <summary>Longest combination kept, in characters; a longer one counts as number 0.</summary>
    public const int MaxLength = 4096;

    // Between values; a value never holds it (HTTP field values exclude control characters).
    private const char Separator = '\u001f';
    private const char AbsentMark = '\u0000';

    private readonly ConcurrentDictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, string[]> _values = new();
    private readonly object _addLock = new();
    private int _next;

    public int Count => _ids.Count;

    /// <summary>The number of the values <paramref name="attributes"/> have in <paramref name="request"/>; 0 for none.</summary>
    public int Capture(TagAttributeRef[] attributes, in RouteRequest request)
    {
        if (attributes.Length == 0)
        {
            return 0;
        }

        var rented = ArrayPool<char>.Shared.Rent(MaxLength);
        try
        {
            var buffer = rented.AsSpan(0, MaxLength);
            var length = 0;
            foreach (var attribute in attributes)
            {
                var written = Write(attribute, request, buffer[length..]);
                if (written < 0 || length + written >= MaxLength)
                {
                    return 0;
                }

                length += written;
                buffer[length++] = Separator;
            }

            return Number(buffer[..length]);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>The captured value of the <paramref name="index"/>-th attribute of combination <paramref name="id"/>; null when absent.</summary>
    public string? Value(int id, int index) =>
        id != 0 && _values.TryGetValue(id, out var values) && index < values.Length && values[index] is { } value && value != "\0" ? value : null;

    private int Number(ReadOnlySpan<char> text)
    {
        var lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(text, out var id))
        {
            return id;
        }

        if (_ids.Count >= Capacity)
        {
            return 0;
        }

        var key = text.ToString();
        var parts = key[..^1].Split(Separator);
        lock (_addLock)
        {
            if (_ids.TryGetValue(key, out id))
            {
                return id;
            }

            id = ++_next;
            _values[id] = parts;
            _ids[key] = id; // published last: whoever finds the id finds its values
            return id;
        }
    }

    /// <summary>Writes one attribute's value; an absent one as its mark. -1 when it does not fit.</summary>
    private static int Write(TagAttributeRef attribute, in RouteRequest request, Span<char> destination)
    {
        var value = attribute.Attribute switch
        {
            TagAttribute.RequestHost => request.Authority,
            TagAttribute.RequestMethod => request.Method,
            TagAttribute.RequestUrlPath => request.Path,
            TagAttribute.RequestScheme => request.Scheme,
            _ => null,
        };
        if (value is not null)
        {
            return value.AsSpan().TryCopyTo(destination) ? value.Length : -1;
        }

        switch (attribute.Attribute)
        {
            case TagAttribute.RequestPath:
                var path = request.Path.AsSpan();
                var query = request.Query.AsSpan();
                var mark = query.IsEmpty || query[0] == '?' ? 0 : 1;
                if (path.Length + mark + query.Length > destination.Length)
                {
                    return -1;
                }

                path.CopyTo(destination);
                if (mark == 1)
                {
                    destination[path.Length] = '?';
                }

                query.CopyTo(destination[(path.Length + mark)..]);
                return path.Length + mark + query.Length;
            case TagAttribute.DestinationPort:
                return request.Port.TryFormat(destination, out var digits, default, CultureInfo.InvariantCulture) ? digits : -1;
        }

        var header = attribute.Attribute switch
        {
            TagAttribute.RequestUserAgent => "user-agent",
            TagAttribute.RequestId => "x-request-id",
            _ => attribute.Key!,
        };
        var length = request.CopyHeader(header, destination);
        if (length >= 0)
        {
            return length;
        }

        if (destination.IsEmpty)
        {
            return -1;
        }

        destination[0] = AbsentMark;
        return 1;
    }
}

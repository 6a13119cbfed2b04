using System.Text;

namespace Trellis.Proxy.Http1;

/// <summary>The header fields the fast path treats specially; everything else is <see cref="Other"/> and passes through.</summary>
internal enum FieldKind : byte
{
    Other,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    ProxyConnection,
    ProxyAuthenticate,
    ProxyAuthorization,
    Te,
    Trailer,
    Upgrade,
    Expect,
    XForwardedFor,
    XForwardedProto,
    XForwardedHost,
    XRequestId,
    Date,
    Cookie,

    /// <summary>Istio's metadata exchange (<c>x-envoy-peer-metadata</c>, <c>-id</c>): replaced or removed by the proxy (Telemetry/PeerMetadata.cs).</summary>
    PeerMetadata,

    /// <summary>Trace context (<c>traceparent</c>, <c>tracestate</c>, <c>b3</c>, <c>x-b3-*</c>): replaced by this hop's (Telemetry/Tracing/TracePropagation.cs).</summary>
    TraceContext,
}

/// <summary>One header line of a head in a buffer: offsets, not strings, so forwarding it copies bytes.</summary>
internal readonly record struct HeaderField(int LineStart, int NameLength, int ValueStart, int ValueLength, FieldKind Kind)
{
    /// <summary>The name and value, given the buffer the head was parsed from.</summary>
    public ReadOnlySpan<byte> Name(ReadOnlySpan<byte> head) => head.Slice(LineStart, NameLength);

    public ReadOnlySpan<byte> Value(ReadOnlySpan<byte> head) => head.Slice(ValueStart, ValueLength);

    /// <summary>Hop-by-hop by definition (RFC 9110 §7.6.1); headers named by Connection are checked separately.</summary>
    public bool IsHopByHop => Kind is FieldKind.Connection or FieldKind.KeepAlive or FieldKind.ProxyConnection or FieldKind.ProxyAuthenticate
        or FieldKind.ProxyAuthorization or FieldKind.Te or FieldKind.Trailer or FieldKind.TransferEncoding or FieldKind.Upgrade;
}

/// <summary>
/// The header section of one message head, parsed in place. Reused from message to message on a
/// connection, so parsing allocates nothing.
/// </summary>
internal sealed class HeaderFields
{
    /// <summary>More fields than this and the message goes to Kestrel (whose limit is 100).</summary>
    public const int MaxFields = 100;

    private readonly HeaderField[] _fields = new HeaderField[MaxFields];

    public int Count { get; private set; }

    public HeaderField this[int index] => _fields[index];

    public ReadOnlySpan<HeaderField> AsSpan() => _fields.AsSpan(0, Count);

    /// <summary>
    /// Parses header lines starting at <paramref name="start"/> up to and including the empty line.
    /// Returns the offset after the empty line, 0 if the head is not complete yet, or -1 when a line
    /// is outside the accepted syntax (see <see cref="HeadSyntax"/>).
    /// </summary>
    /// <param name="trusted">Values were written by the proxy from a request Kestrel checked: taken as they are.</param>
    public int Parse(ReadOnlySpan<byte> buffer, int start, bool trusted = false)
    {
        Count = 0;
        var position = start;
        while (true)
        {
            var rest = buffer[position..];
            var lineEnd = rest.IndexOf((byte)'\n');
            if (lineEnd < 0)
            {
                return 0;
            }

            if (lineEnd == 0 || rest[lineEnd - 1] != '\r')
            {
                return -1; // bare LF
            }

            var line = rest[..(lineEnd - 1)];
            if (line.IsEmpty)
            {
                return position + 2;
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || Count == MaxFields || line[..colon].IndexOfAnyExcept(HeadSyntax.Token) >= 0)
            {
                return -1; // no name, whitespace before the colon, obs-fold, or too many fields
            }

            var rawValue = line[(colon + 1)..];
            if (!trusted && rawValue.IndexOfAnyExcept(HeadSyntax.FieldValue) >= 0)
            {
                return -1;
            }

            var leading = rawValue.IndexOfAnyExcept((byte)' ', (byte)'\t');
            var value = HeadSyntax.TrimOws(rawValue);
            var valueStart = position + colon + 1 + (leading < 0 ? 0 : leading);
            _fields[Count++] = new HeaderField(position, colon, valueStart, value.Length, Classify(line[..colon]));
            position += lineEnd + 1;
        }
    }

    /// <summary>Index of the first field of <paramref name="kind"/>, or -1.</summary>
    public int IndexOf(FieldKind kind)
    {
        var fields = AsSpan();
        for (var i = 0; i < fields.Length; i++)
        {
            if (fields[i].Kind == kind)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Index of the first field named <paramref name="name"/> (ASCII, case-insensitive), or -1.</summary>
    public int IndexOf(ReadOnlySpan<byte> head, string name)
    {
        var fields = AsSpan();
        for (var i = 0; i < fields.Length; i++)
        {
            if (NameEquals(fields[i].Name(head), name))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The value of every field named <paramref name="name"/>, joined with commas as the Kestrel path's
    /// header dictionary gives it to a route's header match; false when there is none.
    /// </summary>
    public bool TryGetJoined(ReadOnlySpan<byte> head, string name, out string value)
    {
        string? joined = null;
        foreach (var field in AsSpan())
        {
            if (NameEquals(field.Name(head), name))
            {
                var text = Encoding.Latin1.GetString(field.Value(head));
                joined = joined is null ? text : string.Concat(joined, ",", text);
            }
        }

        value = joined ?? string.Empty;
        return joined is not null;
    }

    /// <summary>The first field named <paramref name="name"/> as Latin-1 characters in <paramref name="destination"/>: its length, or -1.</summary>
    public int CopyFirst(ReadOnlySpan<byte> head, string name, Span<char> destination)
    {
        var index = IndexOf(head, name);
        if (index < 0)
        {
            return -1;
        }

        var value = _fields[index].Value(head);
        return value.Length <= destination.Length ? Encoding.Latin1.GetChars(value, destination) : -1;
    }

    /// <summary>Whether the Connection fields list <paramref name="name"/>: such a field is hop-by-hop (RFC 9110 §7.6.1).</summary>
    public bool IsNamedByConnection(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name)
    {
        foreach (var field in AsSpan())
        {
            if (field.Kind == FieldKind.Connection && HeadSyntax.ListContains(field.Value(head), name))
            {
                return true;
            }
        }

        return false;
    }

    public static bool NameEquals(ReadOnlySpan<byte> name, string other) =>
        name.Length == other.Length && Ascii.EqualsIgnoreCase(name, other);

    private static FieldKind Classify(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when Ascii.EqualsIgnoreCase(name, "TE"u8) => FieldKind.Te,
        4 when Ascii.EqualsIgnoreCase(name, "Host"u8) => FieldKind.Host,
        4 when Ascii.EqualsIgnoreCase(name, "Date"u8) => FieldKind.Date,
        6 when Ascii.EqualsIgnoreCase(name, "Expect"u8) => FieldKind.Expect,
        6 when Ascii.EqualsIgnoreCase(name, "Cookie"u8) => FieldKind.Cookie,
        7 when Ascii.EqualsIgnoreCase(name, "Trailer"u8) => FieldKind.Trailer,
        7 when Ascii.EqualsIgnoreCase(name, "Upgrade"u8) => FieldKind.Upgrade,
        10 when Ascii.EqualsIgnoreCase(name, "Connection"u8) => FieldKind.Connection,
        10 when Ascii.EqualsIgnoreCase(name, "Keep-Alive"u8) => FieldKind.KeepAlive,
        12 when Ascii.EqualsIgnoreCase(name, "X-Request-Id"u8) => FieldKind.XRequestId,
        14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8) => FieldKind.ContentLength,
        15 when Ascii.EqualsIgnoreCase(name, "X-Forwarded-For"u8) => FieldKind.XForwardedFor,
        16 when Ascii.EqualsIgnoreCase(name, "Proxy-Connection"u8) => FieldKind.ProxyConnection,
        16 when Ascii.EqualsIgnoreCase(name, "X-Forwarded-Host"u8) => FieldKind.XForwardedHost,
        17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8) => FieldKind.TransferEncoding,
        17 when Ascii.EqualsIgnoreCase(name, "X-Forwarded-Proto"u8) => FieldKind.XForwardedProto,
        18 when Ascii.EqualsIgnoreCase(name, "Proxy-Authenticate"u8) => FieldKind.ProxyAuthenticate,
        19 when Ascii.EqualsIgnoreCase(name, "Proxy-Authorization"u8) => FieldKind.ProxyAuthorization,
        2 when Ascii.EqualsIgnoreCase(name, "b3"u8) => FieldKind.TraceContext,
        10 when Ascii.EqualsIgnoreCase(name, "tracestate"u8) || Ascii.EqualsIgnoreCase(name, "x-b3-flags"u8) => FieldKind.TraceContext,
        11 when Ascii.EqualsIgnoreCase(name, "traceparent"u8) || Ascii.EqualsIgnoreCase(name, "x-b3-spanid"u8) => FieldKind.TraceContext,
        12 when Ascii.EqualsIgnoreCase(name, "x-b3-traceid"u8) || Ascii.EqualsIgnoreCase(name, "x-b3-sampled"u8) => FieldKind.TraceContext,
        17 when Ascii.EqualsIgnoreCase(name, "x-b3-parentspanid"u8) => FieldKind.TraceContext,
        21 when Ascii.EqualsIgnoreCase(name, "x-envoy-peer-metadata"u8) => FieldKind.PeerMetadata,
        24 when Ascii.EqualsIgnoreCase(name, "x-envoy-peer-metadata-id"u8) => FieldKind.PeerMetadata,
        _ => FieldKind.Other,
    };
}

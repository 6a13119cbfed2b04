using System.Globalization;

namespace Trellis.Proxy.Telemetry.Tracing;

/// <summary>
/// The trace a request belongs to, as the headers that carry it say: the W3C <c>traceparent</c>
/// (https://www.w3.org/TR/trace-context/), B3 in its single-header form (<c>b3</c>) or its multi-header form
/// (<c>X-B3-TraceId</c>, <c>X-B3-SpanId</c>, <c>X-B3-Sampled</c>, <c>X-B3-Flags</c>;
/// https://github.com/openzipkin/b3-propagation). A value type of three numbers and a flag: reading one allocates
/// nothing. A header that breaks its format is not a context: the proxy then starts a new trace and never forwards the
/// broken value as it came.
/// </summary>
/// <param name="TraceHigh">The upper 64 bits of the 128-bit trace id (0 for a 64-bit B3 id, which W3C pads on the left).</param>
/// <param name="SpanId">The span of the caller (the parent of the next span).</param>
internal readonly record struct TraceContext(ulong TraceHigh, ulong TraceLow, ulong SpanId, bool Sampled)
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";
    public const string B3 = "b3";
    public const string B3TraceId = "x-b3-traceid";
    public const string B3SpanId = "x-b3-spanid";
    public const string B3ParentSpanId = "x-b3-parentspanid";
    public const string B3Sampled = "x-b3-sampled";
    public const string B3Flags = "x-b3-flags";

    /// <summary>Length of a version-00 <c>traceparent</c>: <c>00-</c> 32 hex <c>-</c> 16 hex <c>-</c> 2 hex.</summary>
    public const int TraceParentLength = 55;

    public bool IsValid => (TraceHigh | TraceLow) != 0 && SpanId != 0;

    /// <summary>
    /// A <c>traceparent</c> value. Version 00 must be exactly 55 characters; a later version may be longer (its extra
    /// fields follow a <c>-</c>) and is read as version 00; version <c>ff</c>, upper-case hex, all-zero ids and any
    /// other deviation are invalid (the spec's rule: such a header is as if it were absent).
    /// </summary>
    public static bool TryParseTraceParent(ReadOnlySpan<char> value, out TraceContext context)
    {
        context = default;
        if (value.Length < TraceParentLength || value[2] != '-' || value[35] != '-' || value[52] != '-')
        {
            return false;
        }

        if (!TryHex(value[..2], out var version) || version == 0xff || (version == 0 && value.Length != TraceParentLength)
            || (value.Length > TraceParentLength && value[TraceParentLength] != '-'))
        {
            return false;
        }

        if (!TryHex(value.Slice(3, 16), out var high) || !TryHex(value.Slice(19, 16), out var low) || !TryHex(value.Slice(36, 16), out var span)
            || !TryHex(value.Slice(53, 2), out var flags))
        {
            return false;
        }

        context = new TraceContext(high, low, span, (flags & 1) == 1);
        return context.IsValid;
    }

    /// <summary>
    /// A single <c>b3</c> header: <c>{traceId}-{spanId}</c>, optionally <c>-{sampled}</c> and <c>-{parentSpanId}</c>;
    /// the trace id 16 or 32 lower-case hex, the span id 16. A value of only a sampling decision (<c>0</c>, <c>1</c>,
    /// <c>d</c>) carries no trace: <paramref name="sampled"/> says it, and the result is false.
    /// </summary>
    public static bool TryParseB3(ReadOnlySpan<char> value, out TraceContext context, out bool? sampled)
    {
        context = default;
        sampled = value.Length == 1 ? Sampling(value) : null;
        var dash = value.IndexOf('-');
        if (dash is not (16 or 32))
        {
            return false;
        }

        var traceId = value[..dash];
        var rest = value[(dash + 1)..];
        var spanEnd = rest.IndexOf('-');
        var spanId = spanEnd < 0 ? rest : rest[..spanEnd];
        if (spanEnd >= 0)
        {
            var tail = rest[(spanEnd + 1)..];
            var parentDash = tail.IndexOf('-');
            var decision = parentDash < 0 ? tail : tail[..parentDash];
            if (decision.Length != 1 || (sampled = Sampling(decision)) is null
                || (parentDash >= 0 && (tail.Length - parentDash - 1 != 16 || !TryHex(tail[(parentDash + 1)..], out _))))
            {
                sampled = null;
                return false;
            }
        }

        if (!TryTraceId(traceId, out var high, out var low) || spanId.Length != 16 || !TryHex(spanId, out var span))
        {
            sampled = null;
            return false;
        }

        context = new TraceContext(high, low, span, sampled ?? false);
        if (!context.IsValid)
        {
            sampled = null; // all-zero ids: the whole header is broken, its decision too
            return false;
        }

        return true;
    }

    /// <summary>B3's multiple headers: the trace and span ids; <c>X-B3-Flags: 1</c> (debug) or <c>X-B3-Sampled: 1</c> samples.</summary>
    public static bool TryParseB3Multi(ReadOnlySpan<char> traceId, ReadOnlySpan<char> spanId, ReadOnlySpan<char> sampled, ReadOnlySpan<char> flags, out TraceContext context)
    {
        context = default;
        if (!TryTraceId(traceId, out var high, out var low) || spanId.Length != 16 || !TryHex(spanId, out var span))
        {
            return false;
        }

        var decision = flags.SequenceEqual("1") || sampled.SequenceEqual("1") || sampled.Equals("true", StringComparison.OrdinalIgnoreCase);
        context = new TraceContext(high, low, span, decision);
        return context.IsValid;
    }

    /// <summary>The same trace, one hop further: <paramref name="spanId"/> is the span this proxy records for the hop.</summary>
    public TraceContext Child(ulong spanId) => this with { SpanId = spanId };

    /// <summary>Writes the version-00 <c>traceparent</c> (55 characters) into <paramref name="destination"/>.</summary>
    public int FormatTraceParent(Span<char> destination)
    {
        "00-".CopyTo(destination);
        Hex(TraceHigh, destination.Slice(3, 16));
        Hex(TraceLow, destination.Slice(19, 16));
        destination[35] = '-';
        Hex(SpanId, destination.Slice(36, 16));
        destination[52] = '-';
        destination[53] = '0';
        destination[54] = Sampled ? '1' : '0';
        return TraceParentLength;
    }

    /// <summary>The 32 hex digits of the trace id (W3C form, also what B3 carries for 128-bit ids).</summary>
    public int FormatTraceId(Span<char> destination)
    {
        Hex(TraceHigh, destination[..16]);
        Hex(TraceLow, destination.Slice(16, 16));
        return 32;
    }

    public static int FormatSpanId(ulong spanId, Span<char> destination)
    {
        Hex(spanId, destination[..16]);
        return 16;
    }

    public string TraceIdText()
    {
        Span<char> text = stackalloc char[32];
        FormatTraceId(text);
        return new string(text);
    }

    private static bool? Sampling(ReadOnlySpan<char> decision) => decision switch
    {
        "1" or "d" => true,
        "0" => false,
        _ => null,
    };

    private static bool TryTraceId(ReadOnlySpan<char> text, out ulong high, out ulong low)
    {
        high = 0;
        low = 0;
        return text.Length switch
        {
            16 => TryHex(text, out low),
            32 => TryHex(text[..16], out high) && TryHex(text[16..], out low),
            _ => false,
        };
    }

    /// <summary>Lower-case hex only, as both specs require (upper case is invalid in W3C and not produced by B3).</summary>
    private static bool TryHex(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        foreach (var c in text)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    private static void Hex(ulong value, Span<char> destination) =>
        value.TryFormat(destination, out _, "x16", CultureInfo.InvariantCulture);
}

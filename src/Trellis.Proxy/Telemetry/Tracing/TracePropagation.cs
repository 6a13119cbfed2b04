using System.Text;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Telemetry.Tracing;

/// <summary>
/// Trace propagation for one hop, as Envoy does it for every request it proxies: the context the request arrived with
/// (W3C <c>traceparent</c> first, then B3's <c>b3</c>, then B3's <c>X-B3-*</c>) is continued with a new span id for this
/// hop; a request without one, or with a broken one, starts a new trace (sampled at the listener's percentage, or as a
/// lone <c>b3: 0|1|d</c> decides). The upstream request then carries this hop's context in both formats (W3C and B3
/// multi-header, so an application that propagates either keeps the trace) and never the client's original fields:
/// a malformed header is replaced, not forwarded as it came. <c>tracestate</c> follows a valid <c>traceparent</c> unchanged.
/// </summary>
internal static class TracePropagation
{
    /// <summary>Longest value read from a trace header (a <c>traceparent</c> of a future version may carry more fields).</summary>
    private const int MaxValue = 512;

    /// <summary>
    /// The context of this hop for <paramref name="request"/>: <paramref name="parent"/> is the caller's span (0 for a new
    /// trace), <paramref name="traceState"/> the <c>tracestate</c> to pass on (null for none).
    /// </summary>
    public static TraceContext Continue(in RouteRequest request, Func<int, int> random, double samplingPercentage, out ulong parent, out string? traceState)
    {
        Span<char> value = stackalloc char[MaxValue];
        traceState = null;
        parent = 0;
        bool? decision = null;
        TraceContext incoming = default;
        var length = request.CopyHeader(TraceContext.TraceParent, value);
        var found = length > 0 && TraceContext.TryParseTraceParent(value[..length], out incoming);
        if (found)
        {
            var stateLength = request.CopyHeader(TraceContext.TraceState, value);
            traceState = stateLength > 0 ? new string(value[..stateLength]) : null;
        }
        else if ((length = request.CopyHeader(TraceContext.B3, value)) > 0)
        {
            found = TraceContext.TryParseB3(value[..length], out incoming, out decision);
        }
        else
        {
            found = ReadB3Multi(request, out incoming);
        }

        if (found)
        {
            parent = incoming.SpanId;
            return incoming.Child(NonZero(random));
        }

        var sampled = decision ?? (samplingPercentage > 0 && random(1_000_000) < samplingPercentage * 10_000);
        return new TraceContext(NonZero(random), NonZero(random), NonZero(random), sampled);
    }

    /// <summary>The fields of <paramref name="context"/> the upstream request carries (the client's own were dropped).</summary>
    public static void Write(HeadBuilder output, in TraceContext context, ulong parent, string? traceState)
    {
        Span<char> text = stackalloc char[TraceContext.TraceParentLength];
        Span<byte> bytes = stackalloc byte[TraceContext.TraceParentLength];
        context.FormatTraceParent(text);
        output.AppendHeader("traceparent"u8, Ascii(text, bytes));
        if (traceState is not null)
        {
            output.AppendHeader(TraceContext.TraceState, traceState);
        }

        context.FormatTraceId(text);
        output.AppendHeader("x-b3-traceid"u8, Ascii(text[..32], bytes));
        TraceContext.FormatSpanId(context.SpanId, text);
        output.AppendHeader("x-b3-spanid"u8, Ascii(text[..16], bytes));
        if (parent != 0)
        {
            TraceContext.FormatSpanId(parent, text);
            output.AppendHeader("x-b3-parentspanid"u8, Ascii(text[..16], bytes));
        }

        output.AppendHeader("x-b3-sampled"u8, context.Sampled ? "1"u8 : "0"u8);
    }

    private static ReadOnlySpan<byte> Ascii(ReadOnlySpan<char> text, Span<byte> bytes) => bytes[..Encoding.ASCII.GetBytes(text, bytes)];

    private static bool ReadB3Multi(in RouteRequest request, out TraceContext context)
    {
        Span<char> trace = stackalloc char[32];
        Span<char> span = stackalloc char[16];
        Span<char> sampled = stackalloc char[8];
        Span<char> flags = stackalloc char[8];
        var t = request.CopyHeader(TraceContext.B3TraceId, trace);
        var s = request.CopyHeader(TraceContext.B3SpanId, span);
        var d = request.CopyHeader(TraceContext.B3Sampled, sampled);
        var f = request.CopyHeader(TraceContext.B3Flags, flags);
        context = default;
        return t > 0 && s > 0 && TraceContext.TryParseB3Multi(trace[..t], span[..s], sampled[..Math.Max(d, 0)], flags[..Math.Max(f, 0)], out context);
    }

    /// <summary>A random non-zero 64-bit id from the injected source (three draws of 31 bits; a source that draws only zeros gives 1).</summary>
    private static ulong NonZero(Func<int, int> random)
    {
        var id = ((ulong)(uint)random(int.MaxValue) << 33) ^ ((ulong)(uint)random(int.MaxValue) << 11) ^ (uint)random(int.MaxValue);
        return id == 0 ? 1 : id;
    }
}

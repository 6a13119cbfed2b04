namespace Bookinfo;

/// <summary>
/// The headers every bookinfo service copies from its incoming request to the calls it makes, as
/// Istio's bookinfo does: a mesh can only join spans into one trace, and route by user, when the
/// application carries these along.
/// </summary>
internal static class TraceHeaders
{
    public static readonly string[] Propagated =
    [
        "x-request-id",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
        "b3",
        "traceparent",
        "tracestate",
        "x-ot-span-context",
        "x-cloud-trace-context",
        "grpc-trace-bin",
        "sw8",
        "end-user",
    ];

    public static void Copy(HttpRequest from, HttpRequestMessage to)
    {
        foreach (var name in Propagated)
        {
            if (from.Headers.TryGetValue(name, out var values))
            {
                to.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }
    }
}

using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// The one rule for what the fast paths leave to the Kestrel path. Everything else every engine serves itself
/// through <see cref="RequestPipeline"/>. What stays with Kestrel: a revision instance's listener (the queue-proxy's
/// breaker and timeouts are Kestrel-path stages) and a route with an HTTP/2 upstream (the fast paths speak HTTP/1.1
/// upstream; <see cref="CompiledRoute.NeedsKestrel"/>). The HTTP/1.1 fast path hands over per request; an HTTP/2
/// connection cannot change hands between streams, so the HTTP/2 fast path asks once per connection whether any
/// route of the listener may need Kestrel.
/// </summary>
internal static class KestrelOnly
{
    /// <summary>Every request of this listener takes the Kestrel path.</summary>
    public static bool Listener(CompiledSnapshot snapshot, string listener) =>
        snapshot.ServingByListener.Count != 0 && snapshot.ServingByListener.ContainsKey(listener);

    /// <summary>A connection to this listener may carry a request that needs Kestrel.</summary>
    public static bool Connection(CompiledSnapshot snapshot, string listener) =>
        Listener(snapshot, listener) || (snapshot.RouteTablesByListener.TryGetValue(listener, out var table) && table.NeedsKestrel);
}

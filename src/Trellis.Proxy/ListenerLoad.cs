namespace Trellis.Proxy;

/// <summary>
/// The load one listener carried between two calls of <see cref="ProxyServer.SampleLoad"/>: what the
/// autoscaler needs from a revision instance's inbound listener (Knative's queue-proxy report).
/// </summary>
/// <param name="Listener">The listener's name.</param>
/// <param name="Workload">The workload instance it belongs to (from its config; may be empty).</param>
/// <param name="AverageConcurrency">In-flight requests (queued ones included, as Knative counts), averaged over time from <paramref name="From"/> to <paramref name="To"/>.</param>
/// <param name="Requests">Requests that arrived in the interval.</param>
public sealed record ListenerLoad(string Listener, string Workload, double AverageConcurrency, long Requests, DateTimeOffset From, DateTimeOffset To);

using System.Globalization;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Pipeline;

/// <summary>The activator's stage of the attempt loop, the same for every engine.</summary>
internal sealed partial class RequestPipeline
{
    /// <summary>
    /// The picked cluster has no endpoint (or, with the activator in the path, none with a free slot): wait, bounded,
    /// until a snapshot gives it one, then pick from the cluster as that snapshot compiled it. The request body has
    /// not been touched, so nothing needs buffering. A failure comes back as the reply to send.
    /// </summary>
    private async ValueTask<(ClusterState Cluster, EndpointState? Endpoint, LocalReply Reply)> ActivateAsync(IExchange exchange, ClusterState cluster)
    {
        var activation = cluster.Activation!;
        var queue = _activation.For(cluster.Name);
        var waitStarted = _time.GetTimestamp();
        while (true)
        {
            var remaining = activation.Timeout - _time.GetElapsedTime(waitStarted);
            var outcome = remaining > TimeSpan.Zero
                ? await queue.WaitAsync(activation.QueueCapacity, remaining, exchange.ClientGone)
                : ActivationOutcome.TimedOut;
            switch (outcome)
            {
                case ActivationOutcome.Ready:
                    if (_snapshots.Current.Clusters.TryGetValue(cluster.Name, out var current) && current.NextEndpoint() is { } endpoint)
                    {
                        return (current, endpoint, default);
                    }

                    // The endpoints went away again before we looked (another push), or another request took
                    // the freed slot first; wait on with the time left.
                    continue;
                case ActivationOutcome.QueueFull:
                    ProxyLog.ActivationQueueFull(_servingLog, cluster.Name, activation.QueueCapacity);
                    return (cluster, null, LocalReply.For(ForwardError.ActivationQueueFull, 503, $"activator: queue full for {cluster.Name}"));
                case ActivationOutcome.TimedOut:
                    ProxyLog.ActivationTimedOut(_servingLog, cluster.Name, activation.Timeout);
                    return (cluster, null, LocalReply.For(ForwardError.ActivationTimeout, 503, TimeoutMessage(cluster.Name, activation)));
                default:
                    return (cluster, null, LocalReply.For(ForwardError.RequestCanceled));
            }
        }
    }

    private string TimeoutMessage(string cluster, ActivationConfig activation) =>
        _snapshots.Current.Clusters.TryGetValue(cluster, out var now) && now.Endpoints.Length > 0
            ? $"activator: no instance had a free slot (containerConcurrency {now.EndpointCapacity}) within {Format(activation.Timeout)} for {cluster}"
            : $"activator: no instance became ready within {Format(activation.Timeout)} for {cluster}";

    /// <summary>10s, 1.5s, 250ms: how a Knative user writes durations.</summary>
    private static string Format(TimeSpan timeout) => timeout.TotalSeconds >= 1
        ? timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s"
        : timeout.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
}

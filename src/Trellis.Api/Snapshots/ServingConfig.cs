namespace Trellis.Api.Snapshots;

// Serverless serving settings the control plane compiles from a Knative revision (see issue 4).
// Both are optional members of existing snapshot records, so snapshots without them are unchanged.

/// <summary>
/// Knative's queue-proxy duties on the inbound listener of one revision instance.
/// </summary>
/// <param name="ContainerConcurrency">Requests the instance serves at once (<c>containerConcurrency</c>); 0 = unlimited.</param>
/// <param name="QueueDepth">Requests that may wait for a slot beyond <paramref name="ContainerConcurrency"/>; more get 503.
/// Knative uses 10 × containerConcurrency; the proxy honours whatever number it is given.</param>
/// <param name="Timeout"><c>timeoutSeconds</c>: the response must start within this long of arrival (queueing included), or 504.</param>
/// <param name="ResponseStartTimeout"><c>responseStartTimeoutSeconds</c>: as <paramref name="Timeout"/>, usually shorter.</param>
/// <param name="IdleTimeout"><c>idleTimeoutSeconds</c>: no bytes toward the client for this long ends the request (504 before the response started, an abort after).</param>
public sealed record InstanceServingConfig(
    int ContainerConcurrency = 0,
    int QueueDepth = 0,
    TimeSpan? Timeout = null,
    TimeSpan? ResponseStartTimeout = null,
    TimeSpan? IdleTimeout = null);

/// <summary>
/// Knative's activator for a cluster that can scale to zero: while the cluster has no endpoints,
/// requests wait (bounded) for one instead of failing, and the proxy raises demand so that one is started.
/// With <paramref name="EndpointCapacity"/> the activator is in the path: requests also wait while every
/// endpoint already has that many requests from this proxy, and go to the least loaded one with room.
/// </summary>
/// <param name="QueueCapacity">Requests that may wait at once; the next one gets 503.</param>
/// <param name="Timeout">How long a request may wait for an endpoint before it gets 503.</param>
/// <param name="EndpointCapacity">Requests this proxy sends to one endpoint at once (the revision's
/// <c>containerConcurrency</c>, set while the autoscaler keeps the activator in the path because burst
/// capacity is short); 0: no limit, requests wait only while there is no endpoint.</param>
public sealed record ActivationConfig(int QueueCapacity, TimeSpan Timeout, int EndpointCapacity = 0);

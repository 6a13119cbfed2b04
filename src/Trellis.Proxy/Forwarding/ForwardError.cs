namespace Trellis.Proxy.Forwarding;

/// <summary>Why a request was not forwarded completely. Data-path failures are values, not exceptions.</summary>
public enum ForwardError
{
    None,
    /// <summary>No virtual host or no route matched.</summary>
    NoRoute,
    /// <summary>The picked cluster has no endpoints.</summary>
    NoHealthyUpstream,
    /// <summary>Could not connect to the upstream endpoint.</summary>
    UpstreamConnect,
    /// <summary>The upstream failed after the connection was made, before response headers arrived.</summary>
    UpstreamRequest,
    /// <summary>The route's timeout elapsed.</summary>
    UpstreamTimeout,
    /// <summary>Reading the request body from the client failed.</summary>
    RequestBodyClient,
    /// <summary>Writing the request body to the upstream failed.</summary>
    RequestBodyUpstream,
    /// <summary>Reading the response body from the upstream failed.</summary>
    ResponseBodyUpstream,
    /// <summary>Writing the response body to the client failed.</summary>
    ResponseBodyClient,
    /// <summary>The client went away before the exchange finished.</summary>
    RequestCanceled,
    /// <summary>An upgraded (WebSocket) connection ended with an error on one side.</summary>
    UpgradeStream,
    /// <summary>A revision instance's concurrency slots and queue were all taken (Knative queue-proxy overload).</summary>
    InstanceOverloaded,
    /// <summary>A revision instance's <c>timeoutSeconds</c> elapsed before the response started.</summary>
    InstanceTimeout,
    /// <summary>A revision instance's <c>responseStartTimeoutSeconds</c> elapsed before the response started.</summary>
    InstanceResponseStartTimeout,
    /// <summary>No bytes went to the client for a revision instance's <c>idleTimeoutSeconds</c>.</summary>
    InstanceIdleTimeout,
    /// <summary>An activation cluster had no endpoint and its wait queue was full.</summary>
    ActivationQueueFull,
    /// <summary>An activation cluster got no endpoint within its activation timeout.</summary>
    ActivationTimeout,
    /// <summary>A circuit breaker of the cluster (its connection pool limits) refused the request.</summary>
    UpstreamOverflow,
    /// <summary>The local rate limit refused the request.</summary>
    RateLimited,
    /// <summary>Fault injection aborted the request.</summary>
    FaultAbort,
}

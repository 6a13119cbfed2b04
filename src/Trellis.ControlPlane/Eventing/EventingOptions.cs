using System.Net;

namespace Trellis.ControlPlane.Eventing;

/// <summary>Where the eventing data plane listens and how it reaches subscribers.</summary>
public sealed record EventingOptions
{
    /// <summary>
    /// The broker ingress, Knative's <c>broker-ingress</c>: a Broker's address is
    /// <c>http://{this}/{namespace}/{broker}</c>. Loopback by default, like the API.
    /// </summary>
    public IPEndPoint BrokerEndpoint { get; init; } = new(IPAddress.Loopback, 15080);

    /// <summary>
    /// The ingress gateway events to Knative Services go through, so they take the same path as any
    /// request: the route, the activator (a function at zero instances is started and the event waits),
    /// the per-instance concurrency limit.
    /// </summary>
    public Uri Gateway { get; init; } = new("http://127.0.0.1:8080/");

    /// <summary>Larger events are refused with 413 (Knative's ingress has no fixed limit; its HTTP server's is 10 MiB).</summary>
    public int MaxEventBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// Where events are kept: null for the embedded store in the data directory; a NATS JetStream
    /// (<c>nats://host:4222[,nats://host:4222...]</c>) for the distributed mode, where brokers' events and
    /// Triggers' positions live on the NATS servers and outlive this host.
    /// </summary>
    public Trellis.Eventing.Storage.JetStream.JetStreamOptions? JetStream { get; init; }

    /// <summary>The mesh's trust domain: the identities a delivery to a mesh workload expects of the server.</summary>
    public string TrustDomain { get; init; } = Trellis.Api.Identity.SpiffeId.DefaultTrustDomain;

    /// <summary>How often Brokers and Triggers are reconciled.</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromSeconds(1);
}

using System.CommandLine;

namespace Trellis.Cli.Roles;

/// <summary>
/// The eventing options of the control-plane roles (<c>up</c>, <c>controlplane</c>). Apart from
/// <see cref="RoleOptions"/>, whose source trellis-proxy compiles too and which must not reach the control plane.
/// </summary>
public static class EventingRoleOptions
{
    public static Option<string> BrokerAddress() => new("--broker-address") { Description = "Broker ingress address (Knative eventing); a taken port falls back to a free one", DefaultValueFactory = _ => "127.0.0.1:15080" };

    public static Option<string> EventingGateway() => new("--eventing-gateway") { Description = "Gateway that events to Knative Services go through", DefaultValueFactory = _ => "http://127.0.0.1:8080/" };

    public static Option<string> EventStore() => new("--event-store") { Description = "Where brokers keep events: file (the data directory, default) or nats://host:4222[,nats://host:4222...] (NATS JetStream, see scripts/nats-server)", DefaultValueFactory = _ => "file" };

    public static Option<int> EventStoreReplicas() => new("--event-store-replicas") { Description = "With nats://: JetStream replicas per broker stream (3 in a cluster of three survives a host)", DefaultValueFactory = _ => 1 };

    /// <summary>The eventing options from <see cref="BrokerAddress"/>, <see cref="EventingGateway"/> and the event store options.</summary>
    public static ControlPlane.Eventing.EventingOptions Eventing(string broker, string gateway, string eventStore = "file", int replicas = 1) => new()
    {
        BrokerEndpoint = RoleOptions.Endpoint(broker, "--broker-address"),
        Gateway = Uri.TryCreate(gateway, UriKind.Absolute, out var uri) ? uri : throw new ArgumentException($"--eventing-gateway: \"{gateway}\" is not an absolute URL"),
        JetStream = JetStream(eventStore, replicas),
    };

    /// <summary>Null for <c>file</c>; the JetStream options for a list of <c>nats://</c> URLs; anything else is a usage error.</summary>
    public static Eventing.Storage.JetStream.JetStreamOptions? JetStream(string eventStore, int replicas)
    {
        if (eventStore == "file")
        {
            return null;
        }

        var urls = eventStore.Split(',', StringSplitOptions.TrimEntries);
        foreach (var url in urls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme != "nats" || parsed.Port <= 0 || parsed.AbsolutePath != "/")
            {
                throw new ArgumentException($"--event-store: \"{url}\" is not file or nats://host:port");
            }
        }

        return replicas is < 1 or > 5
            ? throw new ArgumentException($"--event-store-replicas: {replicas} is not between 1 and 5 (JetStream's limit)")
            : new(string.Join(',', urls), replicas);
    }
}

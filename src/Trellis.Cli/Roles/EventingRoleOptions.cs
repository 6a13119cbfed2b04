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

    /// <summary>The eventing options from <see cref="BrokerAddress"/> and <see cref="EventingGateway"/>.</summary>
    public static ControlPlane.Eventing.EventingOptions Eventing(string broker, string gateway) => new()
    {
        BrokerEndpoint = RoleOptions.Endpoint(broker, "--broker-address"),
        Gateway = Uri.TryCreate(gateway, UriKind.Absolute, out var uri) ? uri : throw new ArgumentException($"--eventing-gateway: \"{gateway}\" is not an absolute URL"),
    };
}

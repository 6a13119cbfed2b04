using System.CommandLine;

namespace Trellis.Cli.Roles;

/// <summary>
/// The control-plane roles' options that need the control plane's types. Apart from <see cref="RoleOptions"/>,
/// whose source trellis-proxy (src/Trellis.ProxyHost) compiles too and which must therefore not reach the control plane.
/// </summary>
public static class GatewayAddressOptions
{
    /// <summary><c>--gateway-addresses</c>: the loopback range Gateway API Gateways get their own address from.</summary>
    public static Option<string> GatewayAddresses()
    {
        var option = new Option<string>("--gateway-addresses")
        {
            Description = "Loopback CIDR range Gateway API Gateways get their addresses from",
            DefaultValueFactory = _ => Trellis.ControlPlane.GatewayApi.GatewayAddressPool.Default,
        };
        option.Validators.Add(r =>
        {
            if (Trellis.ControlPlane.GatewayApi.GatewayAddressPool.Parse(r.GetValueOrDefault<string>() ?? "").Error is { } error)
            {
                r.AddError("--gateway-addresses: " + error);
            }
        });
        return option;
    }

    public static Trellis.ControlPlane.GatewayApi.GatewayAddressPool AddressPool(string cidr) =>
        Trellis.ControlPlane.GatewayApi.GatewayAddressPool.Parse(cidr).Pool!;
}

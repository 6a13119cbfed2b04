namespace Trellis.Api.GatewayApi;

/// <summary>
/// Gateway API <c>GatewayClass</c> (cluster-scoped): which controller serves the Gateways of this class. Trellis serves
/// the classes whose <see cref="ControllerName"/> is <see cref="TrellisController"/>.
/// </summary>
public sealed record GatewayClassSpec
{
    /// <summary>The controller name Trellis answers to, written in status <c>controllerName</c> of the routes it accepts.</summary>
    public const string TrellisController = "trellis.dev/gateway-controller";

    public required string ControllerName { get; init; }

    public ParametersReference? ParametersRef { get; init; }

    public string? Description { get; init; }
}

public sealed record ParametersReference
{
    public required string Group { get; init; }

    public required string Kind { get; init; }

    public required string Name { get; init; }

    public string? Namespace { get; init; }
}

using Trellis.Api.Diagnostics;
using Trellis.Api.Eventing;
using Trellis.Api.GatewayApi;
using Trellis.Api.Networking;
using Trellis.Api.Policy;
using Trellis.Api.Security;
using Trellis.Api.Serving;
using Trellis.Api.Workloads;

namespace Trellis.Api.Validation;

/// <summary>
/// Semantic validation of a resource whose spec is well-typed: the rules a schema cannot express. The reader runs it
/// on every document; callers that build resources in code can run it directly. Findings carry paths, not lines.
/// </summary>
public static class ResourceValidator
{
    /// <summary>Metadata and spec rules together.</summary>
    public static IReadOnlyList<Diagnostic> Validate(Resource resource)
    {
        var info = ResourceKinds.Find(resource.ApiVersion, resource.Kind);
        var metadata = info is null ? [] : MetadataValidator.Validate(resource.Metadata, info);
        return [.. metadata, .. ValidateSpec(resource)];
    }

    /// <summary>The spec rules of the resource's kind; nothing for kinds without any.</summary>
    public static IReadOnlyList<Diagnostic> ValidateSpec(Resource resource)
    {
        var ctx = new ValidationContext();
        switch (resource.Spec)
        {
            case VirtualServiceSpec s: VirtualServiceValidator.Validate(s, ctx); break;
            case DestinationRuleSpec s: DestinationRuleValidator.Validate(s, ctx); break;
            case GatewaySpec s: GatewayValidator.Validate(s, ctx); break;
            case ServiceEntrySpec s: ServiceEntryValidator.Validate(s, ctx); break;
            case SidecarSpec s: SidecarValidator.Validate(s, ctx); break;
            case PeerAuthenticationSpec s: SecurityValidator.Validate(s, ctx); break;
            case AuthorizationPolicySpec s: SecurityValidator.Validate(s, ctx); break;
            case RequestAuthenticationSpec s: SecurityValidator.Validate(s, ctx); break;
            case GatewayApiGatewaySpec s: GatewayApiValidator.Validate(s, ctx); break;
            case HttpRouteSpec s: GatewayApiValidator.Validate(s, ctx); break;
            case GrpcRouteSpec s: GatewayApiValidator.Validate(s, ctx); break;
            case TcpRouteSpec s: GatewayApiValidator.Validate(s, ctx); break;
            case TlsRouteSpec s: GatewayApiValidator.Validate(s, ctx); break;
            case KnativeServiceSpec s: ServingValidator.Validate(s, ctx); break;
            case ConfigurationSpec s: ServingValidator.Validate(s, ctx); break;
            case RouteSpec s: ServingValidator.Validate(s, ctx); break;
            case RevisionSpec s: ServingValidator.Revision(s, "spec", ctx); break;
            case BrokerSpec s: EventingValidator.Validate(s, ctx); break;
            case TriggerSpec s: EventingValidator.Validate(s, ctx); break;
            case PingSourceSpec s: EventingValidator.Validate(s, ctx); break;
            case SinkBindingSpec s: EventingValidator.Validate(s, resource.Key.Namespace, ctx); break;
            case DeploymentSpec s: WorkloadValidator.Validate(s, ctx); break;
            case PodSpec s: WorkloadValidator.PodSpec(s, "spec", ctx, containerNamesRequired: true); break;
            case ServiceSpec s: ServiceValidator.Validate(s, ctx); break;
            case LocalRateLimitSpec s: LocalRateLimitValidator.Validate(s, ctx); break;
            case Observability.TelemetrySpec s: TelemetryValidator.Validate(s, ctx); break;
            case ConfigMapData s when MeshConfig.IsMeshConfigMap(resource.Key.Namespace, resource.Metadata.Name):
                // Istio's mesh configuration: a value istiod could not read would leave the mesh on its old settings.
                var (meshConfig, error) = MeshConfig.Parse(s.Data.GetValueOrDefault(MeshConfig.MeshKey));
                if (error is not null)
                {
                    ctx.Error($"data.{MeshConfig.MeshKey}", error);
                }

                // Inside the value (a YAML string), so not rows of NotEnforced's table: the same warning, the key's path in the message.
                foreach (var (path, reason) in meshConfig?.NotEnforced() ?? [])
                {
                    ctx.Warning($"data.{MeshConfig.MeshKey}", $"accepted, not enforced: {path}: {reason}", Diagnostics.DiagnosticCodes.AcceptedNotEnforced);
                }

                break;
        }

        return ctx.Findings;
    }
}

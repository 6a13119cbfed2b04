using System.CommandLine;
using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Security;
using Trellis.ControlPlane.Store;

namespace Trellis.Cli.Roles;

/// <summary>
/// <c>trellis up</c> starts with mTLS STRICT mesh-wide by default, as Linkerd does, rather than Istio's PERMISSIVE
/// (<c>--mesh-mtls PERMISSIVE</c> for Istio's). It is not a hidden setting: on a data directory's first start the policy is written as Istio's own
/// mesh-wide <c>PeerAuthentication</c> (<c>istio-system/default</c>), so <c>trellis get pa -A</c> shows it and a user
/// edits or deletes it like any other. Later starts leave the store as the user left it.
/// </summary>
public static class MeshMtlsDefault
{
    public const string Name = "default";

    /// <summary>STRICT: every hop between proxies speaks mTLS (HTTP and TCP alike), so cleartext between workloads is refused.</summary>
    public const MutualTlsMode Default = MutualTlsMode.Strict;

    public static Option<MutualTlsMode> Option() => new("--mesh-mtls")
    {
        Description = "Mesh-wide mTLS on the data directory's first start: STRICT (the default, as Linkerd: writes the istio-system/default PeerAuthentication) or PERMISSIVE (writes none: Istio's default)",
        DefaultValueFactory = _ => Default,
        CustomParser = result => result.Tokens.Single().Value.ToUpperInvariant() switch
        {
            "STRICT" => MutualTlsMode.Strict,
            "PERMISSIVE" => MutualTlsMode.Permissive,
            var other => Refuse(result, other),
        },
    };

    /// <summary>The policy written on a first start in <paramref name="mode"/>; null when nothing is written (PERMISSIVE needs no policy).</summary>
    public static Resource? Policy(MutualTlsMode mode) => mode != MutualTlsMode.Strict ? null
        : new Resource($"{ResourceKinds.IstioSecurity}/v1", "PeerAuthentication", new ObjectMeta { Name = Name, Namespace = MeshConfig.RootNamespace },
            new PeerAuthenticationSpec { Mtls = new MutualTls { Mode = mode } });

    /// <summary>Writes the policy unless one of that name exists (a user's own mesh-wide policy wins).</summary>
    public static async Task WriteAsync(IResourceStore store, MutualTlsMode mode, CancellationToken cancellationToken)
    {
        if (Policy(mode) is { } policy && store.Snapshot.Get(policy.Key) is null)
        {
            await store.WriteAsync([new PutOperation(policy, PutMode.CreateOnly)], cancellationToken);
        }
    }

    private static MutualTlsMode Refuse(System.CommandLine.Parsing.ArgumentResult result, string given)
    {
        result.AddError($"--mesh-mtls: '{given}' is not a mode; use STRICT or PERMISSIVE");
        return MutualTlsMode.Unset;
    }
}

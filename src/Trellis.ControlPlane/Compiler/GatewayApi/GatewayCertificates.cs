using Trellis.Api;
using Trellis.Api.GatewayApi;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// The certificate of an HTTPS listener: its first <c>certificateRefs</c> entry, a <c>kubernetes.io/tls</c> Secret
/// in the Gateway's namespace, or in another one when a ReferenceGrant there allows it.
/// </summary>
internal static class GatewayCertificates
{
    public const string InvalidCertificateRef = "InvalidCertificateRef";
    public const string RefNotPermitted = "RefNotPermitted";

    /// <summary>One certificate per port (the first listener's that resolves); choosing among several by SNI comes later.</summary>
    public static ListenerTlsConfig? ForPort(GatewayEntry gateway, IEnumerable<Listener> listeners, GatewayApiIndex index)
    {
        foreach (var listener in listeners)
        {
            if (Resolve(gateway, listener, index) is { Tls: { } tls })
            {
                return tls;
            }
        }

        return null;
    }

    /// <summary>The listener's certificate, or the reason (and message) of its <c>ResolvedRefs=False</c> condition.</summary>
    public static (ListenerTlsConfig? Tls, string? Reason, string? Message) Resolve(GatewayEntry gateway, Listener listener, GatewayApiIndex index)
    {
        if (listener.Tls is not { } tls || (tls.Mode ?? "Terminate") != "Terminate")
        {
            return (null, InvalidCertificateRef, "only tls.mode Terminate is served");
        }

        if (tls.CertificateRefs.Count == 0)
        {
            return (null, InvalidCertificateRef, "no certificateRefs");
        }

        var reference = tls.CertificateRefs[0];
        if (!string.IsNullOrEmpty(reference.Group) || (reference.Kind ?? "Secret") != "Secret")
        {
            return (null, InvalidCertificateRef, $"certificateRef {reference.Group}/{reference.Kind} {reference.Name}: only core Secrets are supported");
        }

        var ns = reference.Namespace ?? gateway.Namespace;
        if (ns != gateway.Namespace && !index.IsGranted(ResourceKinds.GatewayApi, "Gateway", gateway.Namespace, "", "Secret", ns, reference.Name))
        {
            return (null, RefNotPermitted, $"certificateRef to Secret {ns}/{reference.Name} is not permitted by any ReferenceGrant");
        }

        if (!index.Secrets.TryGetValue((ns, reference.Name), out var secret) || secret.Get("tls.crt") is not { } cert || secret.Get("tls.key") is not { } key)
        {
            return (null, InvalidCertificateRef, $"Secret {ns}/{reference.Name} not found or without tls.crt and tls.key");
        }

        return (new ListenerTlsConfig(cert, key), null, null);
    }
}

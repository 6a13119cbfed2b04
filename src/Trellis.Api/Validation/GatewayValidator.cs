using Trellis.Api.Networking;

namespace Trellis.Api.Validation;

/// <summary>Istio's Gateway rules: servers with a port and hosts, unique server and port names, TLS where HTTPS needs it.</summary>
internal static class GatewayValidator
{
    public static void Validate(GatewaySpec spec, ValidationContext ctx)
    {
        if (spec.Servers.Count == 0)
        {
            ctx.Error("spec.servers", "at least one server is required");
        }

        Checks.Labels(spec.Selector, "spec.selector", ctx);
        Checks.Unique(spec.Servers, s => s.Port.Name, "spec.servers", "port name", ctx);
        for (var i = 0; i < spec.Servers.Count; i++)
        {
            var server = spec.Servers[i];
            var path = $"spec.servers[{i}]";
            Checks.Port(server.Port.Number, $"{path}.port.number", ctx);
            Checks.Port(server.Port.TargetPort, $"{path}.port.targetPort", ctx);
            if (server.Hosts.Count == 0)
            {
                ctx.Error($"{path}.hosts", "at least one host is required");
            }

            for (var h = 0; h < server.Hosts.Count; h++)
            {
                // "namespace/host": the namespace part restricts which VirtualServices may bind.
                var host = server.Hosts[h];
                var slash = host.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0)
                {
                    var ns = host[..slash];
                    if (ns is not "." and not "*" && !Names.IsDns1123Label(ns))
                    {
                        ctx.Error($"{path}.hosts[{h}]", $"\"{ns}\" is not a namespace, '.' or '*'");
                    }

                    host = host[(slash + 1)..];
                }

                Checks.Host(host, $"{path}.hosts[{h}]", ctx);
            }

            var protocol = server.Port.Protocol?.ToUpperInvariant();
            if (protocol is "HTTPS" or "TLS" && server.Tls is null)
            {
                ctx.Error($"{path}.tls", $"a {protocol} server needs tls settings");
            }

            if (server.Tls is { Mode: ServerTlsMode.Simple or ServerTlsMode.Mutual } tls
                && tls.CredentialName is null && tls.CredentialNames.Count == 0 && (tls.ServerCertificate is null || tls.PrivateKey is null))
            {
                ctx.Error($"{path}.tls", "SIMPLE and MUTUAL need credentialName, or serverCertificate and privateKey");
            }
        }
    }
}

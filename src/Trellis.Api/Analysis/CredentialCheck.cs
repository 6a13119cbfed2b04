using Trellis.Api.Diagnostics;
using Trellis.Api.Networking;

namespace Trellis.Api;

/// <summary>
/// A DestinationRule's SIMPLE or MUTUAL <c>credentialName</c> must name a Secret of its namespace that holds what the mode
/// needs, in PEM that parses (<see cref="ClientCredentials"/>): otherwise apply refuses it, and also the Secret whose
/// change would break it, since the cluster would refuse every connection. Each <c>tls</c> of the rule is checked: its
/// traffic policy, port-level settings and subsets.
/// </summary>
internal static class CredentialCheck
{
    public static void Check(Resource resource, DestinationRuleSpec spec, MeshIndex index, List<Diagnostic> findings, string label)
    {
        var ns = Analyzer.Namespace(resource);
        foreach (var (tls, path) in Settings(spec))
        {
            if (tls.Mode is not (ClientTlsMode.Simple or ClientTlsMode.Mutual) || string.IsNullOrEmpty(tls.CredentialName))
            {
                continue;
            }

            var name = tls.CredentialName;
            var (_, error) = ClientCredentials.Resolve(n => index.Secrets.GetValueOrDefault((ns, n)), ns, name, tls.Mode == ClientTlsMode.Mutual);
            if (error is null)
            {
                continue;
            }

            var missing = !index.Secrets.ContainsKey((ns, name));
            findings.Add(new Diagnostic(
                missing ? DiagnosticCodes.ReferencedResourceNotFound : DiagnosticCodes.InvalidValue,
                Severity.Error,
                missing ? $"Referenced credentialName not found: {error}" : error,
                $"{path}.credentialName",
                Resource: label));
            if (!missing)
            {
                // The Secret is what is wrong: applying it alone must be refused as well.
                findings.Add(new Diagnostic(DiagnosticCodes.InvalidValue, Severity.Error, $"{error}; DestinationRule {ns}/{resource.Metadata.Name} uses it ({path}.credentialName)", Resource: $"Secret/{ns}/{name}"));
            }
        }
    }

    private static IEnumerable<(ClientTlsSettings Tls, string Path)> Settings(DestinationRuleSpec spec)
    {
        foreach (var item in Policy(spec.TrafficPolicy, "spec.trafficPolicy"))
        {
            yield return item;
        }

        for (var i = 0; i < spec.Subsets.Count; i++)
        {
            foreach (var item in Policy(spec.Subsets[i].TrafficPolicy, $"spec.subsets[{i}].trafficPolicy"))
            {
                yield return item;
            }
        }
    }

    private static IEnumerable<(ClientTlsSettings Tls, string Path)> Policy(TrafficPolicy? policy, string path)
    {
        if (policy is null)
        {
            yield break;
        }

        if (policy.Tls is { } tls)
        {
            yield return (tls, $"{path}.tls");
        }

        for (var i = 0; i < policy.PortLevelSettings.Count; i++)
        {
            if (policy.PortLevelSettings[i].Tls is { } portTls)
            {
                yield return (portTls, $"{path}.portLevelSettings[{i}].tls");
            }
        }
    }
}

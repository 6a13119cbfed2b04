using System.Globalization;

namespace Trellis.ControlPlane.Compiler;

/// <summary>Envoy/Istio cluster names, so that operators can read them: <c>outbound|9080|v1|reviews.default.svc.cluster.local</c>.</summary>
internal static class ClusterNames
{
    public static string Outbound(int port, string? subset, string fqdn) =>
        string.Create(CultureInfo.InvariantCulture, $"outbound|{port}|{subset}|{fqdn}");

    public static string Inbound(int port, string instance) =>
        string.Create(CultureInfo.InvariantCulture, $"inbound|{port}||{instance}");
}

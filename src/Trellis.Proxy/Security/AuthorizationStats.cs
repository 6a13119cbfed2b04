using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Security;

/// <summary>
/// What the inbound-policy stage counts across the proxy, as Envoy's RBAC filter keeps its <c>rbac.logged</c> stat:
/// requests an AUDIT AuthorizationPolicy matched. Lock-free adds; served at <c>/stats/prometheus</c> once non-zero.
/// </summary>
internal sealed class AuthorizationStats
{
    public const string AuditedTotal = "trellis_authorization_audited_total";

    private long _audited;

    public long Audited => Volatile.Read(ref _audited);

    public void CountAudited() => Interlocked.Increment(ref _audited);

    public void Write(PrometheusWriter writer)
    {
        var audited = Audited;
        if (audited == 0)
        {
            return;
        }

        writer.Family(AuditedTotal, "counter", "Requests an AUDIT AuthorizationPolicy matched (Envoy's rbac.logged).");
        writer.Sample(AuditedTotal, "", audited);
    }
}

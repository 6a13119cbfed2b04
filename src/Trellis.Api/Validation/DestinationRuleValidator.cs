using Trellis.Api.Networking;

namespace Trellis.Api.Validation;

/// <summary>Istio's DestinationRule rules: a host, unique non-empty subset names, consistent traffic policies.</summary>
internal static class DestinationRuleValidator
{
    public static void Validate(DestinationRuleSpec spec, ValidationContext ctx)
    {
        Checks.Host(spec.Host, "spec.host", ctx);
        if (spec.TrafficPolicy is { } policy)
        {
            TrafficPolicy(policy, "spec.trafficPolicy", ctx);
        }

        Checks.Unique(spec.Subsets, s => s.Name, "spec.subsets", "subset name", ctx);
        for (var i = 0; i < spec.Subsets.Count; i++)
        {
            var subset = spec.Subsets[i];
            var path = $"spec.subsets[{i}]";
            if (subset.Name.Length == 0)
            {
                ctx.Error($"{path}.name", "subset name must not be empty");
            }
            else if (!Names.IsDns1123Label(subset.Name))
            {
                ctx.Error($"{path}.name", $"\"{subset.Name}\" must be an RFC 1123 label");
            }

            Checks.Labels(subset.Labels, $"{path}.labels", ctx);
            if (subset.TrafficPolicy is { } subsetPolicy)
            {
                TrafficPolicy(subsetPolicy, $"{path}.trafficPolicy", ctx);
            }
        }
    }

    private static void TrafficPolicy(TrafficPolicy policy, string path, ValidationContext ctx)
    {
        Policy(policy.LoadBalancer, policy.ConnectionPool, policy.OutlierDetection, policy.Tls, path, ctx);
        for (var i = 0; i < policy.PortLevelSettings.Count; i++)
        {
            var port = policy.PortLevelSettings[i];
            var portPath = $"{path}.portLevelSettings[{i}]";
            if (port.Port?.Number is null)
            {
                ctx.Error($"{portPath}.port", "a port-level setting needs port.number");
            }

            Checks.Port(port.Port?.Number, $"{portPath}.port.number", ctx);
            Policy(port.LoadBalancer, port.ConnectionPool, port.OutlierDetection, port.Tls, portPath, ctx);
        }

        Checks.Unique(policy.PortLevelSettings, p => p.Port?.Number?.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{path}.portLevelSettings", "port", ctx);
    }

    private static void Policy(LoadBalancerSettings? lb, ConnectionPoolSettings? pool, OutlierDetection? outlier, ClientTlsSettings? tls, string path, ValidationContext ctx)
    {
        if (lb is not null)
        {
            if (lb.Simple is not null && lb.ConsistentHash is not null)
            {
                ctx.Error($"{path}.loadBalancer", "simple and consistentHash are mutually exclusive");
            }

            if (lb.ConsistentHash is { } hash)
            {
                var keys = (hash.HttpHeaderName is null ? 0 : 1) + (hash.HttpCookie is null ? 0 : 1) + (hash.UseSourceIp is true ? 1 : 0) + (hash.HttpQueryParameterName is null ? 0 : 1);
                if (keys != 1)
                {
                    ctx.Error($"{path}.loadBalancer.consistentHash", "exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName must be set");
                }

                Checks.Duration(hash.HttpCookie?.Ttl, $"{path}.loadBalancer.consistentHash.httpCookie.ttl", ctx);
                if (hash.Maglev?.TableSize is > 0 and var size && !IsPrime(size))
                {
                    ctx.Error($"{path}.loadBalancer.consistentHash.maglev.tableSize", $"{size} is not a prime (Envoy's Maglev needs one, e.g. 65537)");
                }

                foreach (var (ring, field) in new[] { (hash.RingHash?.MinimumRingSize, "ringHash.minimumRingSize"), (hash.MinimumRingSize, "minimumRingSize") })
                {
                    if (ring is > MaxRingSize)
                    {
                        ctx.Error($"{path}.loadBalancer.consistentHash.{field}", $"{ring} is over {MaxRingSize}, Envoy's largest ring");
                    }
                }
            }

            Checks.Duration(lb.WarmupDurationSecs, $"{path}.loadBalancer.warmupDurationSecs", ctx);
        }

        if (pool is not null)
        {
            Checks.Duration(pool.Tcp?.ConnectTimeout, $"{path}.connectionPool.tcp.connectTimeout", ctx);
            Checks.Duration(pool.Tcp?.IdleTimeout, $"{path}.connectionPool.tcp.idleTimeout", ctx);
            Checks.Duration(pool.Tcp?.MaxConnectionDuration, $"{path}.connectionPool.tcp.maxConnectionDuration", ctx);
            Checks.Duration(pool.Tcp?.TcpKeepalive?.Time, $"{path}.connectionPool.tcp.tcpKeepalive.time", ctx);
            Checks.Duration(pool.Tcp?.TcpKeepalive?.Interval, $"{path}.connectionPool.tcp.tcpKeepalive.interval", ctx);
            Checks.Duration(pool.Http?.IdleTimeout, $"{path}.connectionPool.http.idleTimeout", ctx);
            NonNegative(pool.Tcp?.MaxConnections, $"{path}.connectionPool.tcp.maxConnections", ctx);
            NonNegative(pool.Http?.Http1MaxPendingRequests, $"{path}.connectionPool.http.http1MaxPendingRequests", ctx);
            NonNegative(pool.Http?.Http2MaxRequests, $"{path}.connectionPool.http.http2MaxRequests", ctx);
            NonNegative(pool.Http?.MaxRequestsPerConnection, $"{path}.connectionPool.http.maxRequestsPerConnection", ctx);
            NonNegative(pool.Http?.MaxRetries, $"{path}.connectionPool.http.maxRetries", ctx);
        }

        if (outlier is not null)
        {
            Checks.Duration(outlier.Interval, $"{path}.outlierDetection.interval", ctx);
            Checks.Duration(outlier.BaseEjectionTime, $"{path}.outlierDetection.baseEjectionTime", ctx);
            Checks.Percentage(outlier.MaxEjectionPercent, $"{path}.outlierDetection.maxEjectionPercent", ctx);
            Checks.Percentage(outlier.MinHealthPercent, $"{path}.outlierDetection.minHealthPercent", ctx);
        }

        if (tls is not null)
        {
            Tls(tls, $"{path}.tls", ctx);
        }
    }

    /// <summary>Istio's <c>validateTLS</c>: what SIMPLE and MUTUAL need, and the settings that exclude each other.</summary>
    private static void Tls(ClientTlsSettings tls, string path, ValidationContext ctx)
    {
        static bool Set(string? value) => !string.IsNullOrEmpty(value);
        if (tls.InsecureSkipVerify == true && tls.Mode is ClientTlsMode.Simple && (Set(tls.CaCertificates) || Set(tls.CredentialName)))
        {
            ctx.Error($"{path}.insecureSkipVerify", "cannot specify caCertificates or credentialName when insecureSkipVerify is set true");
        }

        if (tls.InsecureSkipVerify == true && tls.Mode is ClientTlsMode.Mutual && Set(tls.CaCertificates))
        {
            ctx.Error($"{path}.insecureSkipVerify", "cannot specify caCertificates when insecureSkipVerify is set true");
        }

        if (tls.Mode is ClientTlsMode.Simple or ClientTlsMode.Mutual && Set(tls.CredentialName))
        {
            if (Set(tls.ClientCertificate) || Set(tls.PrivateKey) || Set(tls.CaCertificates) || Set(tls.CaCrl))
            {
                ctx.Error($"{path}.credentialName", "cannot specify client certificates or CA certificate or CA CRL if credentialName is set");
            }

            return;
        }

        if (tls.Mode is ClientTlsMode.Mutual && (!Set(tls.ClientCertificate) || !Set(tls.PrivateKey)))
        {
            ctx.Error(path, "MUTUAL needs clientCertificate and privateKey, or credentialName");
        }
    }

    private const long MaxRingSize = 8_388_608;

    private static bool IsPrime(long n)
    {
        if (n < 2)
        {
            return false;
        }

        for (long d = 2; d * d <= n; d++)
        {
            if (n % d == 0)
            {
                return false;
            }
        }

        return true;
    }

    private static void NonNegative(int? value, string path, ValidationContext ctx)
    {
        if (value is < 0)
        {
            ctx.Error(path, "must not be negative");
        }
    }
}

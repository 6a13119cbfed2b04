using System.Text.RegularExpressions;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>
/// The traffic-policy part of <see cref="SnapshotValidator"/>: direct responses, retries, faults, mirrors, CORS, rate
/// limits, rewrites by regex, and the clusters' balancing, connection pool and outlier detection. Every problem is
/// reported with its path; the snapshot is refused whole.
/// </summary>
internal static class PolicyValidator
{
    public static void ValidateRoute(RouteConfig route, HashSet<string> clusters, string path, List<string> errors)
    {
        if (route.DirectResponse is { } direct && direct.Status is < 200 or > 599)
        {
            errors.Add($"{path}.directResponse.status: {direct.Status} is outside 200-599");
        }

        if (route.Retry is { } retry)
        {
            if (retry.Attempts < 0)
            {
                errors.Add($"{path}.retry.attempts: {retry.Attempts} is negative");
            }

            if (retry.PerTryTimeout is { } perTry && perTry <= TimeSpan.Zero)
            {
                errors.Add($"{path}.retry.perTryTimeout: must be positive");
            }

            if (retry.BackoffBase is { } backoff && backoff <= TimeSpan.Zero)
            {
                errors.Add($"{path}.retry.backoffBase: must be positive");
            }

            foreach (var condition in retry.RetryOn ?? [])
            {
                if (!RetryConditions.All.Contains(condition))
                {
                    errors.Add($"{path}.retry.retryOn: unknown condition '{condition}'");
                }
            }

            foreach (var status in retry.RetriableStatusCodes ?? [])
            {
                if (status is < 100 or > 599)
                {
                    errors.Add($"{path}.retry.retriableStatusCodes: {status} is outside 100-599");
                }
            }
        }

        if (route.Fault is { } fault)
        {
            if (fault.Delay is { } delay)
            {
                if (delay.FixedDelay < TimeSpan.Zero)
                {
                    errors.Add($"{path}.fault.delay.fixedDelay: must not be negative");
                }

                Percentage(delay.Percentage, $"{path}.fault.delay.percentage", errors);
            }

            if (fault.Abort is { } abort)
            {
                if ((abort.HttpStatus is null) == (abort.GrpcStatus is null))
                {
                    errors.Add($"{path}.fault.abort: exactly one of httpStatus and grpcStatus");
                }

                if (abort.HttpStatus is < 200 or > 599)
                {
                    errors.Add($"{path}.fault.abort.httpStatus: {abort.HttpStatus} is outside 200-599");
                }

                if (abort.GrpcStatus is < 0 or > 16)
                {
                    errors.Add($"{path}.fault.abort.grpcStatus: {abort.GrpcStatus} is not a gRPC status code (0-16)");
                }

                Percentage(abort.Percentage, $"{path}.fault.abort.percentage", errors);
            }
        }

        var mirrors = route.Mirrors ?? [];
        for (var i = 0; i < mirrors.Count; i++)
        {
            if (!clusters.Contains(mirrors[i].Cluster))
            {
                errors.Add($"{path}.mirrors[{i}].cluster: cluster '{mirrors[i].Cluster}' not found");
            }

            Percentage(mirrors[i].Percentage, $"{path}.mirrors[{i}].percentage", errors);
        }

        if (route.Cors is { } cors)
        {
            var origins = cors.AllowOrigins ?? [];
            for (var i = 0; i < origins.Count; i++)
            {
                SnapshotValidator.ValidateString(origins[i], false, $"{path}.cors.allowOrigins[{i}]", allowPresent: false, errors);
            }

            if (cors.MaxAge is { } maxAge && maxAge < TimeSpan.Zero)
            {
                errors.Add($"{path}.cors.maxAge: must not be negative");
            }
        }

        if (route.Rewrite?.UriRegex is { } regex)
        {
            if (route.Rewrite.UriPrefix is not null)
            {
                errors.Add($"{path}.rewrite: uriPrefix and uriRegex are mutually exclusive");
            }

            try
            {
                _ = new Regex(regex.Match ?? string.Empty, RegexOptions.CultureInvariant);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{path}.rewrite.uriRegex.match: regex '{regex.Match}' does not compile: {ex.Message}");
            }
        }

        ValidateRateLimit(route.RateLimit, $"{path}.rateLimit", errors);
    }

    public static void ValidateCluster(ClusterConfig cluster, string path, List<string> errors)
    {
        if (cluster.ConsistentHash is { } hash)
        {
            if (!Enum.IsDefined(hash.Key) || !Enum.IsDefined(hash.Algorithm))
            {
                errors.Add($"{path}.consistentHash: unknown key or algorithm");
            }

            if (hash.Key != HashKeyKind.SourceIp && string.IsNullOrWhiteSpace(hash.Name))
            {
                errors.Add($"{path}.consistentHash.name: required for a {hash.Key} key");
            }

            if (hash.MinimumRingSize is < 1 or > 8_388_608)
            {
                errors.Add($"{path}.consistentHash.minimumRingSize: {hash.MinimumRingSize} is outside 1-8388608");
            }

            if (hash.MaglevTableSize < 1 || !IsPrime(hash.MaglevTableSize))
            {
                errors.Add($"{path}.consistentHash.maglevTableSize: {hash.MaglevTableSize} is not a prime");
            }
        }

        if (cluster.WarmupDuration is { } warmup && warmup < TimeSpan.Zero)
        {
            errors.Add($"{path}.warmupDuration: must not be negative");
        }

        if (cluster.ConnectionPool is { } pool)
        {
            Positive(pool.MaxConnections, $"{path}.connectionPool.maxConnections", errors);
            NotNegative(pool.MaxPendingRequests, $"{path}.connectionPool.maxPendingRequests", errors);
            Positive(pool.MaxRequests, $"{path}.connectionPool.maxRequests", errors);
            NotNegative(pool.MaxRetries, $"{path}.connectionPool.maxRetries", errors);
            Positive(pool.MaxRequestsPerConnection, $"{path}.connectionPool.maxRequestsPerConnection", errors);
            Percentage(pool.RetryBudgetPercent, $"{path}.connectionPool.retryBudgetPercent", errors);
            NotNegative(pool.RetryBudgetMinConcurrency, $"{path}.connectionPool.retryBudgetMinConcurrency", errors);
            if (pool.ConnectTimeout is { } connect && connect <= TimeSpan.Zero)
            {
                errors.Add($"{path}.connectionPool.connectTimeout: must be positive");
            }

            if (pool.IdleTimeout is { } idle && idle <= TimeSpan.Zero)
            {
                errors.Add($"{path}.connectionPool.idleTimeout: must be positive");
            }

            if (pool.MaxConnectionDuration is { } age && age <= TimeSpan.Zero)
            {
                errors.Add($"{path}.connectionPool.maxConnectionDuration: must be positive");
            }
        }

        if (cluster.OutlierDetection is { } outlier)
        {
            NotNegative(outlier.Consecutive5xxErrors, $"{path}.outlierDetection.consecutive5xxErrors", errors);
            NotNegative(outlier.ConsecutiveGatewayErrors, $"{path}.outlierDetection.consecutiveGatewayErrors", errors);
            NotNegative(outlier.ConsecutiveLocalOriginFailures, $"{path}.outlierDetection.consecutiveLocalOriginFailures", errors);
            if (outlier.Interval <= TimeSpan.Zero)
            {
                errors.Add($"{path}.outlierDetection.interval: must be positive");
            }

            if (outlier.BaseEjectionTime <= TimeSpan.Zero)
            {
                errors.Add($"{path}.outlierDetection.baseEjectionTime: must be positive");
            }

            Percentage(outlier.MaxEjectionPercent, $"{path}.outlierDetection.maxEjectionPercent", errors);
            Percentage(outlier.MinHealthPercent, $"{path}.outlierDetection.minHealthPercent", errors);
        }
    }

    public static void ValidateRateLimit(RateLimitConfig? limit, string path, List<string> errors)
    {
        if (limit is null)
        {
            return;
        }

        if (limit.MaxTokens < 1)
        {
            errors.Add($"{path}.maxTokens: must be at least 1");
        }

        if (limit.TokensPerFill < 1)
        {
            errors.Add($"{path}.tokensPerFill: must be at least 1");
        }

        if (limit.FillInterval <= TimeSpan.Zero)
        {
            errors.Add($"{path}.fillInterval: must be positive");
        }
    }

    private static void Percentage(double value, string path, List<string> errors)
    {
        if (value is < 0 or > 100 || double.IsNaN(value))
        {
            errors.Add($"{path}: {value} is outside 0-100");
        }
    }

    private static void Positive(int? value, string path, List<string> errors)
    {
        if (value is < 1)
        {
            errors.Add($"{path}: {value} must be at least 1");
        }
    }

    private static void NotNegative(int? value, string path, List<string> errors)
    {
        if (value is < 0)
        {
            errors.Add($"{path}: {value} is negative");
        }
    }

    private static bool IsPrime(int n)
    {
        if (n < 2)
        {
            return false;
        }

        for (var d = 2; (long)d * d <= n; d++)
        {
            if (n % d == 0)
            {
                return false;
            }
        }

        return true;
    }
}

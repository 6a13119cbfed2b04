using System.Text.Json;
using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>
/// DestinationRule in, cluster fields out (as the wire JSON): pilot's cluster traffic policy with Envoy's defaults
/// resolved, and Istio's merge of rule, port-level and subset policies.
/// </summary>
public sealed class TrafficPolicyTranslationTests
{
    private const string Outlier = """{"consecutive5xxErrors":5,"consecutiveGatewayErrors":0,"consecutiveLocalOriginFailures":5,"splitExternalLocalOriginErrors":false,"interval":"00:00:10","baseEjectionTime":"00:00:30","maxEjectionPercent":10,"minHealthPercent":0}""";

    public static TheoryData<string, string, string, string, string> Cases => new()
    {
        // load balancing
        { "no policy", "{}", "", "lb", """["roundRobin",null,null]""" },
        { "LEAST_CONN is least request", "{loadBalancer: {simple: LEAST_CONN}}", "", "lb", """["leastRequest",null,null]""" },
        { "PASSTHROUGH", "{loadBalancer: {simple: PASSTHROUGH}}", "", "lb", """["passthrough",null,null]""" },
        { "warm-up on round robin", "{loadBalancer: {simple: ROUND_ROBIN, warmupDurationSecs: 60s}}", "", "lb", """["roundRobin",null,"00:01:00"]""" },
        { "no warm-up on random", "{loadBalancer: {simple: RANDOM, warmupDurationSecs: 60s}}", "", "lb", """["random",null,null]""" },
        { "hash by header", "{loadBalancer: {consistentHash: {httpHeaderName: X-User}}}", "", "lb",
          """["roundRobin",{"key":"header","name":"x-user","algorithm":"ringHash","minimumRingSize":1024,"maglevTableSize":65537},null]""" },
        { "hash by cookie with ttl, ring size", "{loadBalancer: {consistentHash: {httpCookie: {name: session, path: /, ttl: 1h}, ringHash: {minimumRingSize: 4096}}}}", "", "lb",
          """["roundRobin",{"key":"cookie","name":"session","cookiePath":"/","cookieTtl":"01:00:00","algorithm":"ringHash","minimumRingSize":4096,"maglevTableSize":65537},null]""" },
        { "deprecated minimumRingSize", "{loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 2048}}}", "", "lb",
          """["roundRobin",{"key":"sourceIp","name":"","algorithm":"ringHash","minimumRingSize":2048,"maglevTableSize":65537},null]""" },
        { "maglev", "{loadBalancer: {consistentHash: {httpQueryParameterName: user, maglev: {tableSize: 131}}}}", "", "lb",
          """["roundRobin",{"key":"queryParameter","name":"user","algorithm":"maglev","minimumRingSize":1024,"maglevTableSize":131},null]""" },

        // connection pool
        { "connection pool", "{connectionPool: {tcp: {maxConnections: 10, connectTimeout: 250ms, tcpKeepalive: {time: 30s}, idleTimeout: 5m, maxConnectionDuration: 10m}, http: {http1MaxPendingRequests: 1, http2MaxRequests: 100, maxRequestsPerConnection: 5, maxRetries: 0, idleTimeout: 1m}}}", "", "pool",
          """{"maxConnections":10,"maxPendingRequests":1,"maxRequests":100,"retryBudgetPercent":20,"retryBudgetMinConcurrency":3,"maxRequestsPerConnection":5,"connectTimeout":"00:00:00.2500000","idleTimeout":"00:01:00","tcpKeepalive":{"time":"00:00:30"},"maxConnectionDuration":"00:10:00"}""" },
        { "tcp idle timeout when http has none", "{connectionPool: {tcp: {idleTimeout: 5m}, http: {maxRetries: 3}}}", "", "pool",
          """{"maxRetries":3,"retryBudgetPercent":20,"retryBudgetMinConcurrency":3,"idleTimeout":"00:05:00"}""" },

        // outlier detection
        { "outlier defaults", "{outlierDetection: {}}", "", "outlier", Outlier },
        { "outlier fields", "{outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, interval: 1s, baseEjectionTime: 15s, maxEjectionPercent: 100, minHealthPercent: 50, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2}}", "", "outlier",
          """{"consecutive5xxErrors":0,"consecutiveGatewayErrors":3,"consecutiveLocalOriginFailures":2,"splitExternalLocalOriginErrors":true,"interval":"00:00:01","baseEjectionTime":"00:00:15","maxEjectionPercent":100,"minHealthPercent":50}""" },
        { "deprecated consecutiveErrors counts gateway errors", "{outlierDetection: {consecutiveErrors: 7}}", "", "outlier", Outlier.Replace("\"consecutive5xxErrors\":5,\"consecutiveGatewayErrors\":0", "\"consecutive5xxErrors\":0,\"consecutiveGatewayErrors\":7", StringComparison.Ordinal) },
        { "maxEjectionPercent 0 is the default", "{outlierDetection: {maxEjectionPercent: 0}}", "", "outlier", Outlier },

        // merging: rule, port level, subset, subset port level
        { "port level replaces the rule's policy whole", "{loadBalancer: {simple: RANDOM}, outlierDetection: {}, portLevelSettings: [{port: {number: 9080}, connectionPool: {http: {maxRetries: 1}}}]}", "", "all",
          """["roundRobin",{"maxRetries":1,"retryBudgetPercent":20,"retryBudgetMinConcurrency":3},null]""" },
        { "port level of another port does not apply", "{loadBalancer: {simple: RANDOM}, portLevelSettings: [{port: {number: 9999}, loadBalancer: {simple: LEAST_REQUEST}}]}", "", "all", """["random",null,null]""" },
        { "subset overrides part by part", "{loadBalancer: {simple: RANDOM}, outlierDetection: {consecutive5xxErrors: 1}}", "{loadBalancer: {simple: LEAST_REQUEST}}", "all",
          """["leastRequest",null,""" + Outlier.Replace("\"consecutive5xxErrors\":5", "\"consecutive5xxErrors\":1", StringComparison.Ordinal) + "]" },
        { "subset port level replaces every part", "{loadBalancer: {simple: RANDOM}, outlierDetection: {}}", "{portLevelSettings: [{port: {number: 9080}, loadBalancer: {simple: LEAST_REQUEST}}]}", "all", """["leastRequest",null,null]""" },
        { "rule port level, then subset", "{portLevelSettings: [{port: {number: 9080}, loadBalancer: {simple: RANDOM}, outlierDetection: {}}]}", "{connectionPool: {tcp: {maxConnections: 2}}}", "all",
          """["random",{"maxConnections":2,"retryBudgetPercent":20,"retryBudgetMinConcurrency":3},""" + Outlier + "]" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Compile_TrafficPolicy_GivesClusterSettings(string name, string rulePolicy, string subsetPolicy, string field, string expected)
    {
        var yaml = $$"""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              trafficPolicy: {{rulePolicy}}
              subsets:
              - name: v1
                labels: {version: v1}
                {{(subsetPolicy.Length > 0 ? "trafficPolicy: " + subsetPolicy : "")}}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route: [{destination: {host: reviews, subset: v1} }]
            """;
        var cluster = Cluster(Compile(yaml, withRule: false), "v1");

        object? actual = field switch
        {
            "lb" => new object?[] { cluster.LoadBalancer, cluster.ConsistentHash, cluster.WarmupDuration },
            "pool" => cluster.ConnectionPool,
            "outlier" => cluster.OutlierDetection,
            "all" => new object?[] { cluster.LoadBalancer, cluster.ConnectionPool, cluster.OutlierDetection },
            _ => throw new ArgumentException(field),
        };
        var json = JsonSerializer.Serialize(actual, WireJson.Options);
        Assert.True(expected == json, $"{name}\nexpected {expected}\nactual   {json}");
    }

    [Fact]
    public void Compile_TwoRulesForOneHost_MergeSubsetsAndTheOldestPolicyWins()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews-a}
            spec:
              host: reviews
              trafficPolicy: {loadBalancer: {simple: RANDOM}}
              subsets: [{name: v1, labels: {version: v1}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews-b}
            spec:
              host: reviews
              trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
              subsets: [{name: v1, labels: {version: v3}}, {name: v2, labels: {version: v2}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route: [{destination: {host: reviews, subset: v1}, weight: 50}, {destination: {host: reviews, subset: v2}, weight: 50}]
            """, withRule: false);

        var v1 = Cluster(snapshot, "v1");
        var v2 = Cluster(snapshot, "v2");
        Assert.Equal(LoadBalancerKind.Random, v1.LoadBalancer);
        Assert.Equal(LoadBalancerKind.Random, v2.LoadBalancer);
        Assert.Equal("v1", Assert.Single(v1.Endpoints).Labels!["version"]);
        Assert.Equal("v2", Assert.Single(v2.Endpoints).Labels!["version"]);
    }
}

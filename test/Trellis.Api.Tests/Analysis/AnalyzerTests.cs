using Trellis.Api.Diagnostics;

namespace Trellis.Api.Tests.Analysis;

public sealed class AnalyzerTests
{
    private const string Platform = """
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          selector: {app: reviews}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews-v1, namespace: bookinfo}
        spec:
          selector: {matchLabels: {app: reviews, version: v1}}
          template:
            metadata: {labels: {app: reviews, version: v1}}
            spec: {containers: [{name: reviews}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: bookinfo}
        spec:
          host: reviews
          subsets:
          - {name: v1, labels: {version: v1}}
        ---
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: bookinfo-gateway, namespace: bookinfo}
        spec:
          servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: google, namespace: bookinfo}
        spec:
          hosts: [www.googleapis.com, '*.example.com']
          ports: [{number: 443, name: https, protocol: HTTPS}]
        """;

    private static IReadOnlyList<Diagnostic> Analyze(string virtualServiceSpec, string extra = "")
    {
        var text = $"{Platform}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: bookinfo}}\nspec:\n{virtualServiceSpec}{extra}";
        var read = ResourceReader.Read(text);
        Assert.True(read.Diagnostics.ExceptNotEnforced().Count == 0, string.Join("\n", read.Diagnostics.ExceptNotEnforced()));
        return Analyzer.Analyze(read.Resources);
    }

    public static TheoryData<string, string?> Cases => new()
    {
        // spec of the VirtualService under test → path of the expected IST0101, or null for none.
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n", null },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews.bookinfo.svc.cluster.local, subset: v1}\n", null },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews.bookinfo, subset: v1}\n", null },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v3}\n", "spec.http[0].route[0].destination.subset" },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: ratings}\n", "spec.http[0].route[0].destination.host" },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews.other}\n", "spec.http[0].route[0].destination.host" },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: www.googleapis.com}\n", null },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: api.example.com}\n", null },
        { "  hosts: ['*']\n  gateways: [bookinfo-gateway, mesh]\n  http:\n  - route:\n    - destination: {host: reviews}\n", null },
        { "  hosts: ['*']\n  gateways: [bookinfo/bookinfo-gateway]\n  http:\n  - route:\n    - destination: {host: reviews}\n", null },
        { "  hosts: ['*']\n  gateways: [missing-gateway]\n  http:\n  - route:\n    - destination: {host: reviews}\n", "spec.gateways[0]" },
        { "  hosts: ['*']\n  gateways: [other/bookinfo-gateway]\n  http:\n  - route:\n    - destination: {host: reviews}\n", "spec.gateways[0]" },
        { "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n    mirror: {host: shadow}\n", "spec.http[0].mirror.host" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Analyze_VirtualServiceReferences_ReportsDanglingOnes(string spec, string? path)
    {
        var findings = Analyze(spec);

        if (path is null)
        {
            Assert.Empty(findings);
        }
        else
        {
            var d = Assert.Single(findings);
            Assert.Equal(DiagnosticCodes.ReferencedResourceNotFound, d.Code);
            Assert.Equal(path, d.Path);
            Assert.Equal("VirtualService/bookinfo/vs", d.Resource);
        }
    }

    [Fact]
    public void Analyze_KnativeServiceHost_IsKnown()
    {
        var findings = Analyze(
            "  hosts: [hello]\n  http:\n  - route:\n    - destination: {host: hello}\n",
            "\n---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello, namespace: bookinfo}\nspec:\n  template:\n    spec: {containers: [{name: user}]}\n");

        Assert.Empty(findings);
    }

    [Fact]
    public void Analyze_SubsetSelectingNoDeployment_Warns()
    {
        var findings = Analyze(
            "  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n",
            "\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews-v9, namespace: bookinfo}\nspec:\n  host: reviews\n  subsets: [{name: v9, labels: {version: v9}}]\n");

        var d = Assert.Single(findings);
        Assert.Equal((DiagnosticCodes.SubsetSelectsNoWorkload, Severity.Warning, "spec.subsets[0].labels"), (d.Code, d.Severity, d.Path));
        Assert.Equal("DestinationRule/bookinfo/reviews-v9", d.Resource);
    }

    [Fact]
    public void Analyze_BookinfoWithAllDestinationRules_OnlyWarnsAboutUndeployedVersions()
    {
        var resources = new[] { "istio-bookinfo/platform/kube/bookinfo.yaml", "istio-bookinfo/networking/destination-rule-all.yaml", "istio-bookinfo/networking/bookinfo-gateway.yaml", "istio-bookinfo/networking/virtual-service-reviews-90-10.yaml", "istio-bookinfo/networking/virtual-service-all-v1.yaml" }
            .SelectMany(f => Conformance.Read(f).Resources)
            .ToList();

        var findings = Analyzer.Analyze(resources);

        // destination-rule-all.yaml names versions bookinfo.yaml does not deploy (ratings v2, details v2).
        Assert.All(findings, d => Assert.Equal(DiagnosticCodes.SubsetSelectsNoWorkload, d.Code));
        Assert.Equal(
            ["details+v2", "ratings+v2", "ratings+v2-mysql", "ratings+v2-mysql-vm"],
            findings.Select(d => d.Resource!.Split('/')[2] + "+" + d.Message.Split('"')[1]).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Analyze_BookinfoRoutesWithoutDestinationRules_ReportsEverySubset()
    {
        var resources = new[] { "istio-bookinfo/platform/kube/bookinfo.yaml", "istio-bookinfo/networking/virtual-service-all-v1.yaml" }
            .SelectMany(f => Conformance.Read(f).Resources)
            .ToList();

        var findings = Analyzer.Analyze(resources);

        Assert.Equal(4, findings.Count);
        Assert.All(findings, d => Assert.Equal(DiagnosticCodes.ReferencedResourceNotFound, d.Code));
        Assert.All(findings, d => Assert.EndsWith(".subset", d.Path, StringComparison.Ordinal));
    }

    [Fact]
    public void Analyze_EmptySet_ReturnsNothing() => Assert.Empty(Analyzer.Analyze([]));

    [Fact]
    public void Analyze_PoolSettingsOnAnHttp2Port_AcceptedNotEnforcedAtEachField()
    {
        var findings = Analyzer.Analyze(ResourceReader.Read("""
            apiVersion: v1
            kind: Service
            metadata: {name: chain, namespace: bookinfo}
            spec:
              selector: {app: chain}
              ports: [{name: grpc, port: 50051}, {name: http, port: 8080}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: chain, namespace: bookinfo}
            spec:
              host: chain
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 10, connectTimeout: 1s}
                  http: {http2MaxRequests: 100, maxRequestsPerConnection: 5}
                portLevelSettings:
                - port: {number: 8080}
                  connectionPool: {http: {idleTimeout: 30s}}
                - port: {number: 50051}
                  connectionPool: {tcp: {idleTimeout: 30s}}
            """).Resources);

        // The thresholds are enforced on every protocol; the HTTP/1.1 port's own settings are enforced.
        Assert.All(findings, d => Assert.Equal((DiagnosticCodes.AcceptedNotEnforced, Severity.Warning, "DestinationRule/bookinfo/chain"), (d.Code, d.Severity, d.Resource)));
        Assert.Equal(
            ["spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection", "spec.trafficPolicy.connectionPool.tcp.connectTimeout", "spec.trafficPolicy.portLevelSettings[1].connectionPool.tcp.idleTimeout"],
            findings.Select(d => d.Path).Order(StringComparer.Ordinal));
        Assert.Contains("port 50051 is HTTP/2", findings[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_PoolSettingsOnHttp1Service_NoFinding() =>
        Assert.Empty(Analyzer.Analyze(ResourceReader.Read("""
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: bookinfo}
            spec:
              ports: [{name: http, port: 80}]
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: web, namespace: bookinfo}
            spec:
              host: web
              trafficPolicy: {connectionPool: {tcp: {connectTimeout: 1s}, http: {idleTimeout: 30s}}}
            """).Resources));
}

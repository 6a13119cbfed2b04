using Trellis.Api.Diagnostics;
using Trellis.Api.Networking;
using Trellis.Api.Reading;

namespace Trellis.Api.Tests.Reading;

public sealed class ResourceReaderTests
{
    private const string ValidVirtualService = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
          namespace: bookinfo
        spec:
          hosts:
          - reviews
          http:
          - route:
            - destination:
                host: reviews
                subset: v1
        """;

    [Fact]
    public void Read_ValidVirtualService_BindsTypedSpec()
    {
        var result = ResourceReader.Read(ValidVirtualService);

        Assert.False(result.HasErrors);
        var resource = Assert.Single(result.Resources);
        var spec = resource.GetSpec<VirtualServiceSpec>();
        Assert.Equal(["reviews"], spec.Hosts);
        Assert.Equal("v1", spec.Http[0].Route[0].Destination.Subset);
        Assert.Equal("bookinfo", resource.Metadata.Namespace);
    }

    [Fact]
    public void Read_NoNamespace_KeepsNullAndKeyDefaultsToDefault()
    {
        var result = ResourceReader.Read(ValidVirtualService.Replace("  namespace: bookinfo\n", "", StringComparison.Ordinal));

        var resource = Assert.Single(result.Resources);
        Assert.Null(resource.Metadata.Namespace);
        Assert.Equal("default", resource.Key.Namespace);
    }

    [Fact]
    public void Read_Json_ReadsLikeYaml()
    {
        const string json = """
            {"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"reviews"},
             "spec":{"host":"reviews","subsets":[{"name":"v1","labels":{"version":"v1"}}]}}
            """;

        var result = ResourceReader.Read(json);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Equal("v1", Assert.Single(result.Resources).GetSpec<DestinationRuleSpec>().Subsets[0].Labels["version"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("---\n---\n")]
    [InlineData("# only a comment\n")]
    public void Read_EmptyDocuments_AreSkipped(string text)
    {
        var result = ResourceReader.Read(text);

        Assert.Empty(result.Resources);
        Assert.Empty(result.Diagnostics.ExceptNotEnforced());
    }

    [Fact]
    public void Read_EmptyDocumentBetweenResources_IsSkipped()
    {
        var result = ResourceReader.Read($"---\n{ValidVirtualService}\n---\n---\n{ValidVirtualService.Replace("name: reviews", "name: other", StringComparison.Ordinal)}\n");

        Assert.Equal(2, result.Resources.Count);
        Assert.Empty(result.Diagnostics.ExceptNotEnforced());
    }

    [Fact]
    public void Read_MalformedYaml_ReportsOneSyntaxErrorWithLine()
    {
        const string text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n  namespace: x\n";

        var result = ResourceReader.Read(text, "bad.yaml");

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.YamlSyntax, d.Code);
        Assert.Equal("bad.yaml", d.Source);
        Assert.InRange(d.Line, 4, 6);
        Assert.DoesNotContain("Idx:", d.Message, StringComparison.Ordinal);
        Assert.Empty(result.Resources);
    }

    [Theory]
    [InlineData("metadata:\n  name: a\n labels: {}\n", 5, "this line does not fit the map above it")]
    [InlineData("metadata:\n  name: a\n    labels: {}\n", 5, "a 'key:' inside the value above")]
    [InlineData("metadata:\n  name: \"a\n", 4, "the text ends inside a quoted string")]
    [InlineData("metadata:\n\tname: a\n", 4, "a tab used for indentation")]
    public void Read_SyntaxError_PlainSentenceAtTheLineInsteadOfTheParserState(string rest, int line, string plain)
    {
        var d = Assert.Single(ResourceReader.Read("apiVersion: v1\nkind: Service\n" + rest, "bad.yaml").Diagnostics);

        Assert.Equal(DiagnosticCodes.YamlSyntax, d.Code);
        Assert.StartsWith(plain, d.Message, StringComparison.Ordinal);
        Assert.Equal(line, d.Line);
    }

    [Theory]
    [InlineData("wieght", "weight", 1)] // two letters swapped: one edit
    [InlineData("subsett", "subset", 1)]
    [InlineData("Weight", "weight", 0)]
    [InlineData("hsot", "host", 1)]
    [InlineData("weight", "subset", 5)]
    public void EditDistance_SwapsCountAsOneEdit(string a, string b, int expected)
    {
        Assert.Equal(expected, YamlBinder.EditDistance(a, b));
    }

    [Fact]
    public void Read_MisspeltFieldWithSwappedLetters_SuggestsTheField()
    {
        const string text = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      wieght: 100\n";

        var d = Assert.Single(ResourceReader.Read(text, "vs.yaml").Diagnostics, d => d.Code == DiagnosticCodes.UnknownField);

        Assert.Equal("spec.http[0].route[0].wieght", d.Path);
        Assert.Contains("did you mean \"weight\"", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_DuplicateKey_ReportsDuplicateKeyAtItsLine()
    {
        const string text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n";

        var result = ResourceReader.Read(text);

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.DuplicateKey, d.Code);
        Assert.Equal(5, d.Line);
    }

    [Fact]
    public void Read_UnknownField_ReportsFullPathAndKeyPosition()
    {
        var text = ValidVirtualService.Replace("subset: v1", "subsett: v1", StringComparison.Ordinal);

        var result = ResourceReader.Read(text, "vs.yaml");

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.UnknownField, d.Code);
        Assert.Equal("spec.http[0].route[0].destination.subsett", d.Path);
        Assert.Equal(13, d.Line);
        Assert.Equal(9, d.Column);
        Assert.Equal("VirtualService/bookinfo/reviews", d.Resource);
        Assert.Contains("did you mean \"subset\"", d.Message, StringComparison.Ordinal);
        Assert.Empty(result.Resources);
    }

    public static TheoryData<string, string, string, int> WrongTypes => new()
    {
        // kind, spec body, expected path, expected line (spec starts on line 5)
        { "DestinationRule", "spec:\n  host: r\n  subsets:\n  - name: v1\n    trafficPolicy:\n      connectionPool:\n        tcp:\n          maxConnections: many\n", "spec.subsets[0].trafficPolicy.connectionPool.tcp.maxConnections", 12 },
        { "VirtualService", "spec:\n  hosts: reviews\n", "spec.hosts", 6 },
        { "VirtualService", "spec:\n  hosts: [r]\n  http:\n  - match:\n    - ignoreUriCase: abc\n    route:\n    - destination: {host: r}\n", "spec.http[0].match[0].ignoreUriCase", 9 },
        { "VirtualService", "spec:\n  hosts: [r]\n  http:\n    route: []\n", "spec.http", 8 },
        { "Gateway", "spec:\n  servers:\n  - port:\n      number: \"80\"\n    hosts: ['*']\n", "spec.servers[0].port.number", 8 },
        { "DestinationRule", "spec:\n  host: r\n  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n", "spec.trafficPolicy.loadBalancer.simple", 9 },
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public void Read_WrongType_ReportsPathAndLine(string kind, string spec, string path, int line)
    {
        var text = $"apiVersion: networking.istio.io/v1\nkind: {kind}\nmetadata:\n  name: x\n{spec}";

        var result = ResourceReader.Read(text);

        var d = Assert.Single(result.Diagnostics);
        Assert.Contains(d.Code, new[] { DiagnosticCodes.WrongType, DiagnosticCodes.InvalidValue });
        Assert.Equal(path, d.Path);
        Assert.Equal(line, d.Line);
        Assert.Empty(result.Resources);
    }

    public static TheoryData<string, string[]> MissingFields => new()
    {
        { "apiVersion: v1\nkind: Service\nspec: {}\n", ["metadata"] },
        { "kind: Service\nmetadata: {name: a}\n", ["apiVersion"] },
        { "apiVersion: v1\nmetadata: {name: a}\n", ["kind"] },
        { "apiVersion: v1\nkind: Service\nmetadata: {namespace: a}\n", ["metadata.name"] },
        { "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec: {http: []}\n", ["spec.hosts"] },
        { "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\n", ["spec"] },
        { "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\nspec: {subsets: [{labels: {a: b}}]}\n", ["spec.host", "spec.subsets[0].name"] },
        { "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec: {}\n", ["spec.template.spec.containers"] },
        { "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec:\n  template:\n    spec: {containerConcurrency: 1}\n", ["spec.template.spec.containers"] },
    };

    [Theory]
    [MemberData(nameof(MissingFields))]
    public void Read_MissingRequiredField_ReportsEachMissingPath(string text, string[] paths)
    {
        var result = ResourceReader.Read(text);

        Assert.Equal(paths, result.Diagnostics.Select(d => d.Path).ToArray());
        Assert.All(result.Diagnostics, d => Assert.Equal(DiagnosticCodes.MissingField, d.Code));
        Assert.Empty(result.Resources);
    }

    [Fact]
    public void Read_ContainerWithoutCommand_IsValidBecauseImageIsKept()
    {
        const string text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: app\n    image: nginx\n";

        Assert.Empty(ResourceReader.Read(text).Diagnostics.ExceptNotEnforced());
    }

    [Theory]
    [InlineData("networking.istio.io/v1", "VirtualServce", "unknown kind VirtualServce")]
    [InlineData("networking.istio.io/v2", "VirtualService", "served: networking.istio.io/v1")]
    [InlineData("example.com/v1", "Widget", "unknown kind Widget")]
    public void Read_UnknownKindOrApiVersion_NamesIt(string apiVersion, string kind, string expected)
    {
        var result = ResourceReader.Read($"apiVersion: {apiVersion}\nkind: {kind}\nmetadata: {{name: a}}\nspec: {{}}\n");

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.UnknownKind, d.Code);
        Assert.Contains(expected, d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ThreeDocumentsWithErrorsInTwo_ReportsEveryErrorWithItsLine()
    {
        const string text = """
            apiVersion: v1
            kind: Service
            metadata:
              name: ok
            spec:
              ports:
              - port: 80
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata:
              name: reviews
            spec:
              host: reviews
              subsets:
              - name: v1
                lables:
                  version: v1
              trafficPolicy:
                loadBalancer:
                  simple: 3
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: two
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  containers:
                  - name: web
            """;

        var result = ResourceReader.Read(text, "three.yaml");

        Assert.Equal(
            [
                ("spec.subsets[0].lables", 17, DiagnosticCodes.UnknownField),
                ("spec.trafficPolicy.loadBalancer.simple", 21, DiagnosticCodes.InvalidValue),
                ("spec.replicas", 28, DiagnosticCodes.WrongType),
            ],
            result.Diagnostics.Select(d => (d.Path, d.Line, d.Code)).ToArray());
        Assert.Equal("ok", Assert.Single(result.Resources).Metadata.Name);
        Assert.All(result.Diagnostics, d => Assert.Equal("three.yaml", d.Source));
    }

    [Fact]
    public void Read_ErrorsInSiblings_AreAllReported()
    {
        const string text = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: a}
            spec:
              hosts: [a]
              http:
              - timeout: 5
                retries: {attempts: x}
                route:
                - destination: {host: a, port: {number: "80"}}
                  weight: 1.5
            """;

        var result = ResourceReader.Read(text);

        Assert.Equal(
            ["spec.http[0].timeout", "spec.http[0].retries.attempts", "spec.http[0].route[0].destination.port.number", "spec.http[0].route[0].weight"],
            result.Diagnostics.Select(d => d.Path).ToArray());
    }

    [Fact]
    public void Read_UnknownTopLevelField_IsReported()
    {
        var result = ResourceReader.Read("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\nspex: {}\n");

        Assert.Equal("spex", Assert.Single(result.Diagnostics).Path);
    }

    [Fact]
    public void Read_ConfigMap_BindsTopLevelData()
    {
        var result = ResourceReader.Read("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  key: value\n");

        Assert.Empty(result.Diagnostics.ExceptNotEnforced());
        Assert.Equal("value", Assert.Single(result.Resources).GetSpec<Workloads.ConfigMapData>().Data["key"]);
    }

    [Fact]
    public void Read_KnativeService_ExposesInlinePodSpec()
    {
        const string text = """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: hello}
            spec:
              template:
                metadata:
                  annotations: {autoscaling.knative.dev/target: "10"}
                spec:
                  containerConcurrency: 5
                  timeoutSeconds: 30
                  containers:
                  - image: ghcr.io/knative/helloworld-go
                    command: [./hello]
                    env: [{name: TARGET, value: World}]
              traffic:
              - latestRevision: true
                percent: 80
              - revisionName: hello-00001
                percent: 20
                tag: old
            """;

        // Knative containers may omit their name (Kubernetes Deployments may not).
        var result = ResourceReader.Read(text);

        Assert.Empty(result.Diagnostics.ExceptNotEnforced());
        var spec = Assert.Single(result.Resources).GetSpec<Serving.KnativeServiceSpec>();
        Assert.Equal(5, spec.Template.Spec.ContainerConcurrency);
        Assert.Equal(["./hello"], spec.Template.Spec.PodSpec.Containers[0].Command);
        Assert.Equal(80, spec.Traffic[0].Percent);
    }

    [Fact]
    public void Read_DeploymentContainerWithoutName_IsMissingField()
    {
        const string text = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              selector: {matchLabels: {app: d}}
              template:
                metadata: {labels: {app: d}}
                spec:
                  containers:
                  - command: [x]
            """;

        var result = ResourceReader.Read(text);

        Assert.Equal([("spec.template.spec.containers[0].name", DiagnosticCodes.MissingField)], result.Diagnostics.Select(d => (d.Path, d.Code)).ToArray());
    }

    [Fact]
    public void Read_NumberWhereStringExpected_IsWrongTypeButQuantitiesAcceptNumbers()
    {
        const string text = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: a
              labels: {version: 1.10}
            spec:
              containers:
              - name: app
                resources:
                  limits: {cpu: 1, memory: 128Mi}
            """;

        var result = ResourceReader.Read(text);

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("metadata.labels[version]", d.Path);
        Assert.Equal(DiagnosticCodes.WrongType, d.Code);
    }

    [Fact]
    public void Read_IntOrStringPorts_KeepTheirForm()
    {
        const string text = """
            apiVersion: v1
            kind: Service
            metadata: {name: a}
            spec:
              ports:
              - {name: http, port: 80, targetPort: http-web}
              - {name: grpc, port: 81, targetPort: 9000}
            """;

        var spec = Assert.Single(ResourceReader.Read(text).Resources).GetSpec<Workloads.ServiceSpec>();

        Assert.Equal("http-web", spec.Ports[0].TargetPort!.Value.StringValue);
        Assert.Equal(9000, spec.Ports[1].TargetPort!.Value.IntValue);
    }
}

using Trellis.Api;
using Trellis.Runtime;

namespace Trellis.Agent.Tests;

public sealed class DeploymentTranslatorTests
{
    private static Resource Deployment(string container, string extra = "") => Read($$$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews-v2, namespace: books}
        spec:
          replicas: 2
          selector: {matchLabels: {app: reviews, version: v2}}
          template:
            metadata: {labels: {app: reviews, version: v2}}
            spec:
              {{{extra}}}
              containers:
              - {{{container}}}
        """);

    [Theory]
    [InlineData("node-a", 2)]
    [InlineData("node-b", 1)]
    [InlineData("node-c", 0)]
    public void Translate_OnANode_RunsOnlyTheReplicasPlacedThere(string node, int expected)
    {
        // As the agent reads it from the API: the status is bound from JSON text, counts included.
        var deployment = Deployment("{name: reviews, command: [dotnet]}");
        var placed = Read(ResourceWriter.ToJson(deployment with { Status = System.Text.Json.Nodes.JsonNode.Parse("""{"placement":{"node-a":2,"node-b":1}}""")!.AsObject() }));

        var (workload, error) = DeploymentTranslator.Translate(placed, node);

        Assert.Null(error);
        Assert.Equal(expected, workload!.Replicas);
        Assert.Equal(0, DeploymentTranslator.Translate(deployment, node).Workload!.Replicas); // not scheduled yet: nothing runs
        Assert.Equal(2, DeploymentTranslator.Translate(deployment).Workload!.Replicas); // no node: the spec's count
    }

    [Fact]
    public void Translate_CommandArgsEnvWorkingDir_BecomeTheProcess()
    {
        var (workload, error) = DeploymentTranslator.Translate(Deployment(
            "{name: reviews, command: [dotnet, bin/bookinfo.dll], args: [reviews], workingDir: samples/bookinfo, env: [{name: SERVICE_VERSION, value: v2}]}",
            "terminationGracePeriodSeconds: 7"));

        Assert.Null(error);
        Assert.NotNull(workload);
        Assert.Equal(("reviews-v2", "books", 2), (workload.Name, workload.Namespace, workload.Replicas));
        Assert.Equal("dotnet", workload.Command);
        Assert.Equal(["bin/bookinfo.dll", "reviews"], workload.Args);
        Assert.Equal("v2", workload.Env["SERVICE_VERSION"]);
        Assert.Equal("samples/bookinfo", workload.WorkingDirectory);
        Assert.Equal("v2", workload.Labels["version"]);
        Assert.Equal(TimeSpan.FromSeconds(7), workload.TerminationGracePeriod);
        Assert.Equal(["inbound", "outbound"], workload.ExtraPortNames);
        Assert.Null(workload.Readiness);
    }

    [Fact]
    public void Translate_HttpReadinessProbe_KeepsPathAndKubernetesDefaults()
    {
        var (workload, _) = DeploymentTranslator.Translate(Deployment(
            "{name: r, command: [x], readinessProbe: {httpGet: {path: /health, port: 9080}, periodSeconds: 2}}"));

        Assert.Equal(new ProbeSpec(ProbeKind.Http, "/health", TimeSpan.Zero, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 3, 1), workload!.Readiness);
    }

    [Fact]
    public void Translate_ImageOnly_IsAnErrorNamingTheContainer()
    {
        var (workload, error) = DeploymentTranslator.Translate(Deployment("{name: details, image: docker.io/istio/examples-bookinfo-details-v1:1.20.3}"));

        Assert.Null(workload);
        Assert.Contains("details", error, StringComparison.Ordinal);
        Assert.Contains("no command", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Translate_NoReplicas_DefaultsToOne()
    {
        var r = Deployment("{name: r, command: [x]}");
        var spec = (Trellis.Api.Workloads.DeploymentSpec)r.Spec!;
        var (workload, _) = DeploymentTranslator.Translate(r with { Spec = spec with { Replicas = null } });
        Assert.Equal(1, workload!.Replicas);
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData("dotnet", "dotnet", null)]
    [InlineData("java", null, "serving.trellis.dev/pool: \"java\"")]
    public void Translate_PoolAnnotation_OptsIntoThePool(string? annotation, string? pool, string? error)
    {
        var r = Deployment("{name: fn, command: [dotnet, fn.dll]}");
        var spec = (Trellis.Api.Workloads.DeploymentSpec)r.Spec!;
        var annotations = annotation is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [DeploymentTranslator.PoolAnnotation] = annotation };
        var (workload, why) = DeploymentTranslator.Translate(r with
        {
            Spec = spec with { Template = spec.Template with { Metadata = spec.Template.Metadata! with { Annotations = annotations } } },
        });

        Assert.Equal(pool, workload?.Pool);
        if (error is null)
        {
            Assert.Null(why);
        }
        else
        {
            Assert.Null(workload);
            Assert.Contains(error, why, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Translate_BoundBySinkBinding_InstancesGetKSinkAndOverridesOverTheSpecs()
    {
        // As the agent reads it from the API, with the binding the control plane recorded in the status.
        var deployment = Deployment("{name: p, command: [dotnet], env: [{name: K_SINK, value: 'http://old/'}, {name: K_CA_CERTS, value: pem}, {name: A, value: b}]}");
        var bound = Read(ResourceWriter.ToJson(deployment with
        {
            Status = System.Text.Json.Nodes.JsonNode.Parse("""{"sinkBinding":{"binding":"b","sink":"http://127.0.0.1:15080/books/default","ceOverrides":"{\"extensions\":{\"team\":\"x\"}}"}}""")!.AsObject(),
        }));

        var env = DeploymentTranslator.Translate(bound).Workload!.Env;

        Assert.Equal("http://127.0.0.1:15080/books/default", env["K_SINK"]);
        Assert.Equal("""{"extensions":{"team":"x"}}""", env["K_CE_OVERRIDES"]);
        Assert.False(env.ContainsKey("K_CA_CERTS")); // Knative's Undo removes it; a plain-HTTP sink sets none
        Assert.Equal("b", env["A"]);
        var unbound = DeploymentTranslator.Translate(deployment).Workload!.Env;
        Assert.Equal("http://old/", unbound["K_SINK"]);
        Assert.False(unbound.ContainsKey("K_CE_OVERRIDES"));
    }

    [Theory]
    [InlineData(null, false, null)]
    [InlineData("true", true, null)]
    [InlineData("false", false, null)]
    [InlineData("yes", false, "annotation serving.trellis.dev/socket-activation: \"yes\" is not \"true\" or \"false\"")]
    public void Translate_SocketActivationAnnotation_OptsIn(string? annotation, bool expected, string? error)
    {
        var r = Deployment("{name: fn, command: [fn]}");
        var spec = (Trellis.Api.Workloads.DeploymentSpec)r.Spec!;
        var annotations = annotation is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [DeploymentTranslator.SocketActivationAnnotation] = annotation };
        var (workload, why) = DeploymentTranslator.Translate(r with
        {
            Spec = spec with { Template = spec.Template with { Metadata = spec.Template.Metadata! with { Annotations = annotations } } },
        });

        Assert.Equal(error, why);
        Assert.Equal(expected, workload?.SocketActivation ?? false);
        if (error is not null)
        {
            Assert.Null(workload);
        }
    }

    private static Resource Read(string yaml)
    {
        var read = ResourceReader.Read(yaml, "test.yaml");
        Assert.False(read.HasErrors, string.Join("\n", read.Diagnostics));
        return read.Resources.Single();
    }
}

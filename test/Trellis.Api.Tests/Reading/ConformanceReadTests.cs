namespace Trellis.Api.Tests.Reading;

/// <summary>What real users write must read cleanly: Istio's bookinfo configs and the Gateway API conformance manifests.</summary>
public sealed class ConformanceReadTests
{
    public static TheoryData<string> IstioBookinfo => Conformance.Files("istio-bookinfo/networking", "istio-bookinfo/gateway-api", "istio-bookinfo/platform/kube/bookinfo.yaml");

    public static TheoryData<string> GatewayApi => Conformance.Files("gateway-api/base", "gateway-api/tests");

    [Theory]
    [MemberData(nameof(IstioBookinfo))]
    public void Read_IstioBookinfoFile_HasNoDiagnostics(string file)
    {
        var result = Conformance.Read(file);

        Assert.True(result.Diagnostics.ExceptNotEnforced().Count == 0, string.Join("\n", result.Diagnostics.ExceptNotEnforced()));
        Assert.NotEmpty(result.Resources);
    }

    [Theory]
    [MemberData(nameof(GatewayApi))]
    public void Read_GatewayApiConformanceFile_HasNoDiagnostics(string file)
    {
        var result = Conformance.Read(file);

        Assert.True(result.Diagnostics.ExceptNotEnforced().Count == 0, string.Join("\n", result.Diagnostics.ExceptNotEnforced()));
        Assert.NotEmpty(result.Resources);
    }

    [Fact]
    public void Read_BookinfoPlatform_GivesTypedServicesAndDeployments()
    {
        var result = Conformance.Read("istio-bookinfo/platform/kube/bookinfo.yaml");

        var kinds = result.Resources.GroupBy(r => r.Kind).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, kinds["Service"]);
        Assert.Equal(6, kinds["Deployment"]);
        Assert.Equal(4, kinds["ServiceAccount"]);
        var reviews = result.Resources.Single(r => r is { Kind: "Deployment", Metadata.Name: "reviews-v1" }).GetSpec<Workloads.DeploymentSpec>();
        Assert.Equal("v1", reviews.Template.Metadata!.Labels["version"]);
        Assert.Equal(9080, reviews.Template.Spec.Containers[0].Ports[0].ContainerPort);
    }
}

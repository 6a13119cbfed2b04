using Trellis.Api.Diagnostics;
using Trellis.Api.Networking;
using Trellis.Api.Validation;

namespace Trellis.Api.Tests.Validation;

public sealed class ResourceValidatorTests
{
    [Fact]
    public void Validate_ResourceBuiltInCode_ReportsMetadataAndSpecFindings()
    {
        var resource = new Resource(
            "networking.istio.io/v1",
            "DestinationRule",
            new ObjectMeta { Name = "Bad_Name" },
            new DestinationRuleSpec { Host = "reviews", Subsets = [new Subset { Name = "v1" }, new Subset { Name = "v1" }] });

        var findings = ResourceValidator.Validate(resource);

        Assert.Equal(
            [("metadata.name", DiagnosticCodes.InvalidValue), ("spec.subsets[1]", DiagnosticCodes.DuplicateEntry)],
            findings.Select(d => (d.Path, d.Code)).ToArray());
    }

    [Theory]
    [InlineData("reviews", true)]
    [InlineData("reviews-v1.bookinfo", true)]
    [InlineData("Reviews", false)]
    [InlineData("-reviews", false)]
    [InlineData("", false)]
    public void IsDns1123Subdomain_Name_FollowsKubernetes(string name, bool valid) =>
        Assert.Equal(valid, Names.IsDns1123Subdomain(name));

    [Theory]
    [InlineData("app", true)]
    [InlineData("app.kubernetes.io/name", true)]
    [InlineData("prometheus.io/scrape", true)]
    [InlineData("bad key", false)]
    [InlineData("/name", false)]
    public void IsQualifiedName_LabelKey_FollowsKubernetes(string key, bool valid) =>
        Assert.Equal(valid, Names.IsQualifiedName(key));

    [Fact]
    public void Analyze_SpecWithNullsFromCode_WarnsInsteadOfThrowing()
    {
        var broken = new Resource("networking.istio.io/v1", "VirtualService", new ObjectMeta { Name = "vs" }, new VirtualServiceSpec { Hosts = ["a"], Http = null! });

        var findings = Analyzer.Analyze([broken]);

        Assert.Equal(DiagnosticCodes.AnalysisSkipped, Assert.Single(findings).Code);
    }
}

using Trellis.Api.Identity;

namespace Trellis.Api.Tests.Identity;

public sealed class SpiffeIdTests
{
    [Theory]
    [InlineData("spiffe://cluster.local/ns/default/sa/bookinfo-reviews", "cluster.local", "/ns/default/sa/bookinfo-reviews")]
    [InlineData("spiffe://example.org", "example.org", "")]
    [InlineData("spiffe://td_1-a/trellis/node/n1", "td_1-a", "/trellis/node/n1")]
    public void TryParse_Valid(string text, string domain, string path)
    {
        Assert.True(SpiffeId.TryParse(text, out var id, out var error), error);
        Assert.Equal(domain, id.TrustDomain);
        Assert.Equal(path, id.Path);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData("http://cluster.local/ns/a/sa/b")]
    [InlineData("spiffe://")]
    [InlineData("spiffe://Cluster.Local/ns/a/sa/b")]
    [InlineData("spiffe://cluster.local/ns//sa/b")]
    [InlineData("spiffe://cluster.local/ns/../sa/b")]
    [InlineData("spiffe://cluster.local/ns/a/sa/b/")]
    [InlineData("spiffe://cluster.local/ns/a b/sa/c")]
    [InlineData("")]
    public void TryParse_Invalid(string text)
    {
        Assert.False(SpiffeId.TryParse(text, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Fact]
    public void Workload_RoundTripsNamespaceAndServiceAccount()
    {
        var id = SpiffeId.ForWorkload("cluster.local", "default", "bookinfo-productpage");
        Assert.Equal("cluster.local/ns/default/sa/bookinfo-productpage", id.Principal);
        Assert.True(id.TryGetWorkload(out var ns, out var sa));
        Assert.Equal(("default", "bookinfo-productpage"), (ns, sa));
        Assert.False(SpiffeId.Parse("spiffe://cluster.local/trellis/node/n1").TryGetWorkload(out _, out _));
    }
}

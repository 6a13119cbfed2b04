namespace Trellis.Api.Tests;

public sealed class HostNamesTests
{
    [Theory]
    [InlineData("reviews", "bookinfo", "reviews.bookinfo.svc.cluster.local")]
    [InlineData("reviews", "", "reviews.default.svc.cluster.local")]
    [InlineData("reviews.other", "bookinfo", "reviews.other.svc.cluster.local")]
    [InlineData("reviews.other.svc", "bookinfo", "reviews.other.svc.cluster.local")]
    [InlineData("reviews.other.svc.cluster.local", "bookinfo", "reviews.other.svc.cluster.local")]
    [InlineData("Reviews.Other.SVC.cluster.local.", "bookinfo", "reviews.other.svc.cluster.local")]
    [InlineData("www.google.com", "bookinfo", "www.google.com")]
    [InlineData("*.google.com", "bookinfo", "*.google.com")]
    public void Qualify_Host_GivesFqdn(string host, string ns, string expected) =>
        Assert.Equal(expected, HostNames.Qualify(host, ns));

    [Theory]
    [InlineData("*.google.com", "www.google.com", true)]
    [InlineData("*.google.com", "google.com", false)]
    [InlineData("*", "anything", true)]
    [InlineData("a.b", "A.B", true)]
    public void Matches_Pattern_MatchesHost(string pattern, string host, bool expected) =>
        Assert.Equal(expected, HostNames.Matches(pattern, host));
}

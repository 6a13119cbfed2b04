using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Tests.Routing;

public sealed class RedirectBuilderTests
{
    [Theory]
    [InlineData(null, null, null, null, "http://shop:8080/old?x=1")]
    [InlineData("/new", null, null, null, "http://shop:8080/new?x=1")]
    [InlineData("/new?y=2", null, null, null, "http://shop:8080/new?y=2")]
    [InlineData(null, "store.example.com", null, null, "http://store.example.com/old?x=1")]
    [InlineData(null, null, "https", 443, "https://shop/old?x=1")] // a well-known port is left out
    [InlineData(null, null, null, 80, "http://shop/old?x=1")]
    [InlineData(null, null, "https", 80, "https://shop:80/old?x=1")]
    [InlineData("/v2", "store", "https", 8443, "https://store:8443/v2?x=1")]
    public void Location_RedirectParts_ReplaceOnlyWhatIsSet(string? uri, string? authority, string? scheme, int? port, string expected)
    {
        var redirect = new RedirectConfig(uri, authority, scheme, port);

        Assert.Equal(expected, RedirectBuilder.Location(redirect, "http", "shop:8080", "/old", "?x=1"));
    }

    [Theory]
    [InlineData("/prefix/one/", "/prefix/one/two", "/one/", "http://shop:8080/one/two?x=1")]
    [InlineData("/strip/", "/strip/three", "/", "http://shop:8080/three?x=1")]
    public void Location_PrefixRewrite_ReplacesTheMatchedPrefix(string prefix, string path, string replacement, string expected)
    {
        var matched = new CompiledMatch(new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, prefix)), TimeSpan.FromSeconds(1));
        var redirect = new RedirectConfig(PrefixRewrite: replacement, StatusCode: 302);

        Assert.Equal(expected, RedirectBuilder.Location(redirect, "http", "shop:8080", path, "?x=1", matched));
    }
}

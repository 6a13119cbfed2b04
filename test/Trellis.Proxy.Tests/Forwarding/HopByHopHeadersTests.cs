using Microsoft.Extensions.Primitives;
using Trellis.Proxy.Forwarding;

namespace Trellis.Proxy.Tests.Forwarding;

public sealed class HopByHopHeadersTests
{
    [Theory]
    [InlineData("X-Secret, close", "X-Secret", true)]
    [InlineData("close,x-secret", "X-Secret", true)]
    [InlineData(" keep-alive ,  X-Secret ", "x-secret", true)]
    [InlineData("X-Secret-Two", "X-Secret", false)]
    [InlineData("", "X-Secret", false)]
    public void IsNamedByConnection_Tokens_MatchWholeTokensCaseInsensitively(string connection, string name, bool expected) =>
        Assert.Equal(expected, HopByHopHeaders.IsNamedByConnection(new StringValues(connection), name));

    [Theory]
    [InlineData("trailers", true)]
    [InlineData("gzip, trailers", true)]
    [InlineData("gzip", false)]
    public void AcceptsTrailers_TeValues_OnlyTrailersToken(string te, bool expected) =>
        Assert.Equal(expected, HopByHopHeaders.AcceptsTrailers(new StringValues(te)));
}

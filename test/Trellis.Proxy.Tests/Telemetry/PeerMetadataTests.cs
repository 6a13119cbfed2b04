using Trellis.Api.Snapshots;
using Trellis.Proxy.Telemetry;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>Istio's metadata exchange header: a base64 protobuf Struct, read back whole, and anything else ignored.</summary>
public sealed class PeerMetadataTests
{
    [Fact]
    public void EncodeDecode_Workload_RoundTrips()
    {
        var workload = new WorkloadMetadata("productpage-v1", "default", new Dictionary<string, string> { ["app"] = "productpage", ["version"] = "v1" });

        var decoded = PeerMetadata.Decode(PeerMetadata.Encode(workload));

        Assert.NotNull(decoded);
        Assert.Equal("productpage-v1", decoded.Name);
        Assert.Equal("default", decoded.Namespace);
        Assert.Equal(workload.Labels, decoded.Labels);
    }

    [Fact]
    public void Encode_IsProtobufStruct_AsIstioWritesIt()
    {
        // A Struct of one entry NAMESPACE: "ns": field 1 (entry) { field 1 key, field 2 Value { field 3 string } }.
        var bytes = Convert.FromBase64String(PeerMetadata.Encode(new WorkloadMetadata("w", "ns")));
        var entry = new byte[] { 0x0A, 9, (byte)'N', (byte)'A', (byte)'M', (byte)'E', (byte)'S', (byte)'P', (byte)'A', (byte)'C', (byte)'E', 0x12, 4, 0x1A, 2, (byte)'n', (byte)'s' };
        var framed = new byte[] { 0x0A, (byte)entry.Length }.Concat(entry).ToArray();

        Assert.True(bytes.AsSpan().IndexOf(framed) >= 0);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("AAAA")]             // zero bytes: field 0
    [InlineData("Cg==")]             // a field 1 with no length
    [InlineData("Cv8B")]             // a length past the end
    [InlineData("CgYKBE5BTUU=")]     // NAME with no value: no workload name
    public void Decode_Malformed_Null(string header)
    {
        Assert.Null(PeerMetadata.Decode(header));
    }

    [Fact]
    public void PeerDirectory_SameHeader_SameIdAndNoSecondDecode()
    {
        var peers = new Interned<PeerLabels>(PeerLabels.None);
        var directory = new PeerDirectory(peers);
        var header = PeerMetadata.Encode(new WorkloadMetadata("reviews-v1", "default", new Dictionary<string, string> { ["app"] = "reviews" }));

        var first = directory.Resolve(header);
        var second = directory.Resolve(header.ToCharArray());

        Assert.NotEqual(0, first);
        Assert.Equal(first, second);
        Assert.Equal("reviews", peers[first].App);
        Assert.Equal(0, directory.Resolve("garbage"));
    }
}

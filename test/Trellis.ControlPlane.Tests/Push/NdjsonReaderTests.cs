using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Push;

namespace Trellis.ControlPlane.Tests.Push;

public sealed class NdjsonReaderTests
{
    [Fact]
    public async Task ReadAsync_LinesSplitAcrossWrites_BindsEachAndSkipsEmptyAndNull()
    {
        var pipe = new Pipe();
        var ack = "{\"version\":\"v1\",\"accepted\":true,\"errors\":[]}\n\nnull\n{\"version\":\"v2\",\"accepted\":false,\"errors\":[\"bad\"]}\n";
        foreach (var chunk in Encoding.UTF8.GetBytes(ack).Chunk(7))
        {
            await pipe.Writer.WriteAsync(chunk);
        }

        await pipe.Writer.CompleteAsync();

        var first = await NdjsonReader.ReadAsync(pipe.Reader, WireJsonContext.Default.ProxyAck, default);
        var second = await NdjsonReader.ReadAsync(pipe.Reader, WireJsonContext.Default.ProxyAck, default);
        var end = await NdjsonReader.ReadAsync(pipe.Reader, WireJsonContext.Default.ProxyAck, default);

        Assert.Equal(("v1", true), (first!.Version, first.Accepted));
        Assert.Equal(("v2", false, "bad"), (second!.Version, second.Accepted, second.Errors.Single()));
        Assert.Null(end);
    }

    [Fact]
    public async Task ReadAsync_UnterminatedLastLine_IsTheEnd()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("{\"version\":\"v1\",\"accepted\":true"));
        await pipe.Writer.CompleteAsync();

        Assert.Null(await NdjsonReader.ReadAsync(pipe.Reader, WireJsonContext.Default.ProxyAck, default));
    }

    [Fact]
    public async Task ReadAsync_LineLongerThanTheLimit_IsTheEnd()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        await pipe.Writer.WriteAsync(new byte[NdjsonReader.MaxLineBytes + 1].Select(_ => (byte)' ').ToArray());

        Assert.Null(await NdjsonReader.ReadAsync(pipe.Reader, WireJsonContext.Default.ProxyAck, default));
    }

    [Fact]
    public async Task ReadAsync_LineThatIsNotJson_Throws()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync("not json\n"u8.ToArray());

        await Assert.ThrowsAnyAsync<JsonException>(async () => await NdjsonReader.ReadAsync(pipe.Reader, WireJsonContext.Default.ProxyAck, default));
    }
}

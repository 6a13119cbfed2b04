using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Eventing.Storage;
using Trellis.Eventing.Storage.JetStream;

namespace Trellis.Eventing.Tests.Storage;

/// <summary>The store contract on a real JetStream server, plus what only JetStream has to show.</summary>
public sealed class JetStreamEventStoreTests : EventStoreContractTests
{
    private NatsServer _server = null!;

    public override async Task InitializeAsync() => _server = await NatsServer.StartAsync();

    public override async Task DisposeAsync() => await _server.DisposeAsync();

    protected override async Task<IEventStore> OpenStoreAsync() =>
        await JetStreamEventStore.ConnectAsync(new JetStreamOptions(_server.Url), NullLogger.Instance);

    [Fact]
    public async Task ServerKilledAndRestarted_AcknowledgedEventsAndPositionsSurvive()
    {
        long position;
        await using (var store = await OpenStoreAsync())
        {
            var log = await store.OpenAsync("b");
            await log.GetPositionAsync("t");
            for (var i = 0; i < 20; i++)
            {
                await log.AppendAsync([Bytes($"e{i}")]);
            }

            position = (await ReadAllAsync(log, 1))[5].Sequence;
            await log.SetPositionAsync("t", position);
        }

        _server.Kill();
        await _server.RestartAsync();

        await using var reopened = await OpenStoreAsync();
        var again = await reopened.OpenAsync("b");
        Assert.Equal(position, await again.GetPositionAsync("t"));
        Assert.Equal(Enumerable.Range(5, 15).Select(i => $"e{i}"), (await ReadAllAsync(again, position)).Select(Text));
    }

    [Fact]
    public async Task Connect_NoServer_IsAnIOException()
    {
        var url = _server.Url;
        _server.Kill();
        await Assert.ThrowsAsync<IOException>(() => JetStreamEventStore.ConnectAsync(new JetStreamOptions(url), NullLogger.Instance));
    }

    [Fact]
    public async Task Append_ServerGone_IsAnIOException_NotAHang()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("b");
        _server.Kill();

        var append = log.AppendAsync([Bytes("lost")]).AsTask();
        await Assert.ThrowsAsync<IOException>(() => append.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Theory]
    [InlineData("trigger/default/orders")]
    [InlineData("a.b c=d/é")]
    [InlineData("=41")]
    public void PositionKey_RoundTrips(string consumer)
    {
        var key = JetStreamPositions.KeyOf("trellis-b-0011", consumer);
        Assert.Matches("^[-/_=.A-Za-z0-9]+$", key);
        Assert.Equal(consumer, JetStreamPositions.ConsumerOf(key, "trellis-b-0011"));
    }

    [Fact]
    public void StreamName_IsValidAndKeepsSimilarNamesApart()
    {
        var a = JetStreamEventStore.StreamName("broker/default/a.b");
        var b = JetStreamEventStore.StreamName("broker/default/a_b");
        Assert.Matches("^[-_A-Za-z0-9]+$", a);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void AppendFrame_RoundTrips_AndRefusesDamage()
    {
        byte[] body = AppendFrame.Pack([new byte[] { 1, 2 }, Array.Empty<byte>(), new byte[] { 3 }]);
        Assert.Equal([[1, 2], [], [3]], AppendFrame.Unpack(body, "3")!.Select(m => m.ToArray()));
        Assert.Null(AppendFrame.Unpack(body, "4"));
        Assert.Null(AppendFrame.Unpack(body.AsMemory(0, body.Length - 1), "3"));
        Assert.Null(AppendFrame.Unpack(body, "x"));
        Assert.Equal([body], AppendFrame.Unpack(body, null)!.Select(m => m.ToArray()));
    }
}

namespace Trellis.Runtime.Tests;

public sealed class LogReaderTests : IDisposable
{
    private readonly string path = Path.Combine(Path.GetTempPath(), "trellis-logreader-" + Guid.NewGuid().ToString("n") + ".log");

    public void Dispose() => File.Delete(path);

    [Fact]
    public async Task ReadAsync_NoFollow_ReturnsAllLinesIncludingUnterminatedLast()
    {
        await File.WriteAllTextAsync(path, "one\r\ntwo\n\nthree");

        var lines = await LogReader.ReadAsync(path, follow: false).ToListAsync();

        Assert.Equal(["one", "two", "", "three"], lines);
    }

    [Fact]
    public async Task ReadAsync_NoFollowMissingFile_Throws()
    {
        await Assert.ThrowsAsync<FileNotFoundException>(async () => await LogReader.ReadAsync(path, follow: false).ToListAsync());
    }

    [Fact]
    public async Task ReadAsync_Follow_YieldsAppendedLinesOnceCompleteAndEndsOnCancel()
    {
        await File.WriteAllTextAsync(path, "first\n");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var lines = new List<string>();
        var reading = Task.Run(async () =>
        {
            await foreach (var line in LogReader.ReadAsync(path, true, TimeProvider.System, TimeSpan.FromMilliseconds(5), cts.Token))
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        });

        await WaitForCountAsync(lines, 1);
        await File.AppendAllTextAsync(path, "sec");
        await Task.Delay(50);
        lock (lines)
        {
            Assert.Equal(["first"], lines);
        }

        await File.AppendAllTextAsync(path, "ond\nthird\n");
        await WaitForCountAsync(lines, 3);
        await cts.CancelAsync();
        await reading;

        Assert.Equal(["first", "second", "third"], lines);
    }

    private static async Task WaitForCountAsync(List<string> lines, int count)
    {
        for (var i = 0; i < 1000; i++)
        {
            lock (lines)
            {
                if (lines.Count >= count)
                {
                    return;
                }
            }

            await Task.Delay(5);
        }

        throw new TimeoutException($"expected {count} lines");
    }
}

using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Proxy.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Trellis.Proxy.Tests.Forwarding;

/// <summary>
/// Bodies far larger than any acceptable buffer go through with flat memory: proof that the
/// proxy streams. Client, proxy and backend share this process, and all of them stream, so
/// the process' heap is a fair upper bound for the proxy's — as long as no other test runs
/// beside them (other large-body tests, the HTTP/2 ones among them, would count too), hence a
/// collection that runs alone.
/// </summary>
[Collection(HeapMeasurement.Name)]
public sealed class LargeBodyTests(ITestOutputHelper output)
{
    private const long MaxHeapGrowth = 100L * 1024 * 1024;

    [Fact]
    public async Task Forward_OneGibUpload_StreamsWithoutBuffering()
    {
        const long size = 1024L * 1024 * 1024;
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await c.Request.Body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            await c.Response.WriteAsync(total.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var content = new GeneratedContent(size);

        var (response, peakGrowth, elapsed) = await MeasureAsync(() => proxy.Client.PostAsync("/upload", content));
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(size.ToString(System.Globalization.CultureInfo.InvariantCulture), await response.Content.ReadAsStringAsync());
        }

        output.WriteLine($"1 GiB upload in {elapsed.TotalSeconds:F1}s, peak heap growth {peakGrowth / 1024 / 1024} MiB");
        Assert.InRange(peakGrowth, long.MinValue, MaxHeapGrowth);
    }

    [Fact]
    public async Task Forward_LargeDownload_StreamsWithoutBuffering()
    {
        const long size = 256L * 1024 * 1024;
        var chunk = new byte[64 * 1024];
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            c.Response.ContentLength = size;
            for (long sent = 0; sent < size; sent += chunk.Length)
            {
                await c.Response.Body.WriteAsync(chunk);
            }
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        var (received, peakGrowth, elapsed) = await MeasureAsync(async () =>
        {
            using var response = await proxy.Client.GetAsync("/download", HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            return total;
        });

        output.WriteLine($"256 MiB download in {elapsed.TotalSeconds:F1}s, peak heap growth {peakGrowth / 1024 / 1024} MiB");
        Assert.Equal(size, received);
        Assert.InRange(peakGrowth, long.MinValue, MaxHeapGrowth);
    }

    /// <summary>Runs <paramref name="action"/> while sampling the managed heap; returns the peak growth over the start.</summary>
    private static async Task<(T Result, long PeakGrowth, TimeSpan Elapsed)> MeasureAsync<T>(Func<Task<T>> action)
    {
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = baseline;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false));
                await Task.Delay(10);
            }
        });
        var watch = Stopwatch.StartNew();
        var result = await action();
        watch.Stop();
        await stop.CancelAsync();
        await sampler;
        return (result, Math.Max(peak, GC.GetTotalMemory(false)) - baseline, watch.Elapsed);
    }

    /// <summary>A body of the given size produced on the fly from one small buffer.</summary>
    private sealed class GeneratedContent(long size) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var chunk = new byte[64 * 1024];
            for (long sent = 0; sent < size; sent += chunk.Length)
            {
                await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, size - sent)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return true;
        }
    }
}

/// <summary>Tests that measure the whole process' heap: run with no other test beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasurement
{
    public const string Name = "heap measurement";
}

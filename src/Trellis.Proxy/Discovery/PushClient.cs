using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Discovery;

/// <summary>
/// The proxy's end of the push stream (docs/protocol.md): one HTTP/2 request to the control plane whose
/// body carries the hello and then an ACK or NACK per snapshot, and whose response carries snapshots.
/// When the stream breaks the proxy keeps serving its last good snapshot and reconnects with backoff.
/// </summary>
public sealed partial class PushClient : IAsyncDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private readonly Uri[] _pushUrls;
    private int _replica;
    private readonly ProxyHello _hello;
    private readonly Trellis.Api.Access.IRequestCredential? _credential;
    private readonly Func<ProxySnapshot, CancellationToken, Task<SnapshotApplyResult>> _apply;
    private readonly ILogger _log;
    private readonly HttpMessageInvoker _http;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstSnapshot = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;

    public PushClient(Uri pushUrl, ProxyHello hello, Func<ProxySnapshot, CancellationToken, Task<SnapshotApplyResult>> apply, ILogger<PushClient> log, Trellis.Api.Access.IRequestCredential? credential = null, Trellis.Api.Access.ControlPlaneTrust? trust = null)
        : this([pushUrl], hello, apply, log, credential, trust)
    {
    }

    /// <summary>With several control-plane replicas: a broken stream is opened again on the next one.</summary>
    /// <param name="credential">What the stream opens with (a node's signature, a proxy token): the control plane sends a proxy only its own snapshot.</param>
    /// <param name="trust">How an https push stream's certificate is checked (the mesh CA's roots); null: the system's roots.</param>
    public PushClient(IReadOnlyList<Uri> pushUrls, ProxyHello hello, Func<ProxySnapshot, CancellationToken, Task<SnapshotApplyResult>> apply, ILogger<PushClient> log, Trellis.Api.Access.IRequestCredential? credential = null, Trellis.Api.Access.ControlPlaneTrust? trust = null)
    {
        var handler = Capture.OwnTraffic.Apply(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(2) });
        _http = new HttpMessageInvoker(trust?.Apply(handler) ?? handler);
        _credential = credential;
        _pushUrls = pushUrls.Select(u => new Uri(u, "/push/v1/stream")).ToArray();
        _hello = hello;
        _apply = apply;
        _log = log;
    }

    /// <summary>Completes once the first snapshot has been applied (or rejected).</summary>
    public Task FirstSnapshot => _firstSnapshot.Task;

    public void Start() => _loop = RunAsync(_stop.Token);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (await StreamOnceAsync(_pushUrls[_replica % _pushUrls.Length], stop))
                {
                    backoff = TimeSpan.FromMilliseconds(100);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or JsonException or OperationCanceledException)
            {
                LogStreamFailed(_log, _hello.Name, e.Message);
            }

            // Every replica serves the same snapshots: try the next one at once, and back off only after a round of all.
            _replica = (_replica + 1) % _pushUrls.Length;
            if (_replica != 0)
            {
                continue;
            }

            try
            {
                await Task.Delay(backoff, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>One connection's life. Returns true when at least one snapshot arrived (a healthy stream).</summary>
    private async Task<bool> StreamOnceAsync(Uri pushUrl, CancellationToken stop)
    {
        var acks = Channel.CreateUnbounded<ProxyAck>(new UnboundedChannelOptions { SingleReader = true });
        using var request = new HttpRequestMessage(HttpMethod.Post, pushUrl)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new AckStreamContent(_hello, acks.Reader),
        };
        if (_credential is not null)
        {
            await _credential.ApplyAsync(request, stop);
        }

        using var response = await _http.SendAsync(request, stop);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            // A refused credential says why (401/403 carry the control plane's reason): the log must show it.
            var why = (int)response.StatusCode is 401 or 403 ? ": " + (await response.Content.ReadAsStringAsync(stop)).Trim() : "";
            throw new HttpRequestException($"push stream answered {(int)response.StatusCode}{why}");
        }

        var any = false;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop), Encoding.UTF8);
        while (await reader.ReadLineAsync(stop) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            var snapshot = JsonSerializer.Deserialize(line, WireJsonContext.Default.ProxySnapshot)
                ?? throw new JsonException("empty snapshot");
            var result = await _apply(snapshot, stop);
            if (!result.Accepted)
            {
                LogRejected(_log, _hello.Name, snapshot.Version, string.Join("; ", result.Errors));
            }

            acks.Writer.TryWrite(new ProxyAck(snapshot.Version, result.Accepted, result.Errors));
            _firstSnapshot.TrySetResult();
            any = true;
        }

        acks.Writer.TryComplete();
        return any;
    }

    /// <summary>The request body: the hello line, then ACK lines as they are produced, flushed one by one.</summary>
    private sealed class AckStreamContent(ProxyHello hello, ChannelReader<ProxyAck> acks) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await WriteLineAsync(stream, JsonSerializer.SerializeToUtf8Bytes(hello, WireJsonContext.Default.ProxyHello), cancellationToken);
            await foreach (var ack in acks.ReadAllAsync(cancellationToken))
            {
                await WriteLineAsync(stream, JsonSerializer.SerializeToUtf8Bytes(ack, WireJsonContext.Default.ProxyAck), cancellationToken);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }

        private static async Task WriteLineAsync(Stream stream, byte[] json, CancellationToken ct)
        {
            await stream.WriteAsync(json, ct);
            await stream.WriteAsync("\n"u8.ToArray(), ct);
            await stream.FlushAsync(ct);
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Proxy {Name}: push stream failed ({Reason}); serving the last snapshot and reconnecting")]
    private static partial void LogStreamFailed(ILogger log, string name, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Proxy {Name} rejected snapshot {Version}: {Errors}")]
    private static partial void LogRejected(ILogger log, string name, string version, string errors);
}

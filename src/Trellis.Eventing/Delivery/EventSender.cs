using CloudNative.CloudEvents;
using Trellis.Eventing.CloudEvents;

namespace Trellis.Eventing.Delivery;

/// <summary>
/// Where to send: the address to connect to and the logical URL the request is for. They differ when
/// delivery goes through the mesh gateway (connect to the gateway, <c>Host</c> of the Knative
/// Service), which is how an event reaches a function scaled to zero: it waits in the activator.
/// </summary>
public sealed record DeliveryTarget(Uri Address, Uri Logical)
{
    /// <summary>
    /// The request option that asks for mTLS to a mesh workload's inbound listener: the SPIFFE IDs the server may present
    /// (Istio's secure naming). The sender's connection factory reads it (the control plane's <c>MeshDeliveryConnector</c>).
    /// </summary>
    public static readonly HttpRequestOptionsKey<IReadOnlySet<string>> MeshPeersOption = new("trellis.mesh-peers");

    /// <summary>
    /// Set when <see cref="Address"/> is a mesh workload's inbound listener, which is reached over mTLS: the SPIFFE IDs
    /// the server may present, space-separated and sorted (a string, so targets keep value equality).
    /// </summary>
    public string? MeshPeers { get; init; }

    public static DeliveryTarget Direct(Uri url) => new(url, url);
}

/// <summary>Sends one event, one attempt; never throws for what the network or the subscriber does.</summary>
public interface IEventSender
{
    Task<AttemptResult> SendAsync(DeliveryTarget target, CloudEvent cloudEvent, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>HTTP delivery in binary content mode (what Knative's dispatcher sends), answer body kept up to 1 MiB.</summary>
public sealed class HttpEventSender(HttpClient client) : IEventSender
{
    private const int MaxAnswer = 1024 * 1024;

    public async Task<AttemptResult> SendAsync(DeliveryTarget target, CloudEvent cloudEvent, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var message = CloudEventHttp.EncodeBinary(cloudEvent);
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Address) { Content = new ReadOnlyMemoryContent(message.Body) };
        if (message.ContentType is { } type)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }

        foreach (var (name, value) in message.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (target.Address != target.Logical)
        {
            request.Headers.Host = target.Logical.Authority;
        }

        if (target.MeshPeers is { } peers)
        {
            request.Options.Set(DeliveryTarget.MeshPeersOption, peers.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal));
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var body = await ReadLimitedAsync(response.Content, deadline.Token);
            var headers = response.Headers.Select(h => new KeyValuePair<string, string>(h.Key, string.Join(",", h.Value))).ToList();
            return new AttemptResult((int)response.StatusCode, null, body, response.Content.Headers.ContentType?.ToString(), headers);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return AttemptResult.Failed($"no answer within {timeout.TotalSeconds:0.###}s");
        }
        catch (HttpRequestException e)
        {
            return AttemptResult.Failed(e.Message);
        }
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while (buffer.Length < MaxAnswer && (read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, (int)Math.Min(read, MaxAnswer - buffer.Length));
        }

        return buffer.ToArray();
    }
}

using System.Net;
using System.Text;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Listeners;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// The upstream request message for SocketsHttpHandler (HTTP/2 upstreams, upgrades), translated field by field from
/// the upstream head the Kestrel path wrote (<see cref="UpstreamHeadWriter"/>, where the forwarding rules are): no
/// rule of its own. The target goes onto the endpoint's origin; Host becomes the message's Host; the framing fields
/// become the streamed content's; content fields go to the content, the rest to the message.
/// </summary>
internal sealed class RequestMessageFactory
{
    public HttpRequestMessage Create(KestrelExchange exchange, Pipeline.Attempt attempt, bool isUpgrade, int copyBufferSize, out StreamingRequestContent? content)
    {
        var written = exchange.WriteUpstreamHead(attempt.Route, attempt.Matched, attempt.RequestHeaders, attempt.Endpoint, null);
        var bytes = written.Buffer.Written.Span;
        var head = written.Head;
        var target = Encoding.Latin1.GetString(head.Target(bytes));
        var message = new HttpRequestMessage(new HttpMethod(head.Method(bytes)), new Uri(attempt.Endpoint.Origin + target, UriKind.Absolute))
        {
            // Upgrades exist only in HTTP/1.1, whatever the cluster speaks.
            Version = attempt.Cluster.Protocol == UpstreamProtocol.Http2 && !isUpgrade ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        content = null;
        if (!isUpgrade && written.Framing != BodyFraming.None && (head.Chunked || head.ContentLength > 0))
        {
            var length = head.Chunked ? (long?)null : head.ContentLength;
            content = new StreamingRequestContent(exchange.BodyForAttempt(), length, StreamCopier.BufferSizeFor(length, copyBufferSize));
            message.Content = content;
        }

        foreach (var field in head.Fields.AsSpan())
        {
            var name = Encoding.Latin1.GetString(field.Name(bytes));
            var value = Encoding.Latin1.GetString(field.Value(bytes));
            switch (field.Kind)
            {
                case FieldKind.Host:
                    message.Headers.Host = value;
                    continue;
                case FieldKind.ContentLength or FieldKind.TransferEncoding:
                    continue; // the content's own
                case FieldKind.Connection or FieldKind.Upgrade when !isUpgrade:
                    continue;
            }

            if (!message.Headers.TryAddWithoutValidation(name, value) && message.Content is not null)
            {
                // Content-Type, Content-Encoding and friends belong to the content's header collection.
                message.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        written.Buffer.ReturnBuffer();
        return message;
    }
}

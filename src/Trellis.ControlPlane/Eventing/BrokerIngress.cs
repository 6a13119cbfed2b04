using System.Buffers;
using CloudNative.CloudEvents;
using Microsoft.AspNetCore.Http;
using Trellis.Eventing.CloudEvents;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// Knative's broker ingress: <c>POST /{namespace}/{broker}</c> with a CloudEvent (binary, structured
/// or a batch of them, <c>application/cloudevents-batch+json</c>). 202 only once every event of the request is durable in the broker's log; 400 with
/// the reason when the request is not a valid CloudEvent (nothing is stored); 413 past the size
/// limit; 404 for a broker that does not exist; 503 while the broker is not ready.
/// </summary>
internal sealed class BrokerIngress(EventingController controller, EventingOptions options, TimeProvider time)
{
    /// <summary>Knative's ingress stamps every event with the time it arrived.</summary>
    private static readonly CloudEventAttribute ArrivalTime = CloudEventAttribute.CreateExtension("knativearrivaltime", CloudEventAttributeType.Timestamp);

    /// <summary>
    /// The broker ingress's requests, <c>POST /{namespace}/{broker}</c>, as the listener's first middleware:
    /// Kestrel hands them here before routing, so the hot path pays for no route match, endpoint or result
    /// object (measured: about a tenth of the ingress's CPU per event; docs/eventing.md, Speed). Anything
    /// else (the async endpoint, other methods and paths) goes on to the routed endpoints.
    /// </summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        return HttpMethods.IsPost(request.Method) && BrokerPath(request.Path.Value) is ({ } ns, { } broker) && !ns.Equals("async-function", StringComparison.OrdinalIgnoreCase)
            ? HandleAsync(context, ns, broker)
            : next(context);
    }

    /// <summary>The two segments of <c>/{namespace}/{broker}</c> (a trailing slash allowed, as routing allows it), else nulls.</summary>
    internal static (string? Namespace, string? Broker) BrokerPath(string? path)
    {
        if (path is not ['/', .. var rest])
        {
            return (null, null);
        }

        rest = rest.EndsWith('/') ? rest[..^1] : rest;
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && slash < rest.Length - 1 && rest.IndexOf('/', slash + 1) < 0 ? (rest[..slash], rest[(slash + 1)..]) : (null, null);
    }

    public async Task HandleAsync(HttpContext context, string ns, string broker)
    {
        var log = controller.BrokerLog(ns, broker);
        if (log is null)
        {
            await (controller.BrokerExists(ns, broker)
                ? TextAsync(context, StatusCodes.Status503ServiceUnavailable, $"broker {ns}/{broker} is not ready")
                : TextAsync(context, StatusCodes.Status404NotFound, $"broker {ns}/{broker} not found"));
            return;
        }

        if (context.Request.ContentLength > options.MaxEventBytes)
        {
            await TooLargeAsync(context);
            return;
        }

        var body = await ReadAsync(context.Request, options.MaxEventBytes, context.RequestAborted);
        if (body is null)
        {
            await TooLargeAsync(context);
            return;
        }

        var decoded = CloudEventHttp.Decode(new EventMessage(context.Request.ContentType, EventHeaders(context.Request.Headers), body));
        if (!decoded.Ok)
        {
            await TextAsync(context, StatusCodes.Status400BadRequest, decoded.Error!);
            return;
        }

        if (decoded.Events.Count == 0)
        {
            // An empty batch (`[]`) is a valid request (the JSON format's batch allows it): nothing to store.
            context.Response.StatusCode = StatusCodes.Status202Accepted;
            return;
        }

        // Every event of the request goes into the log in one append: one group commit, all or none, and the
        // 202 below only once all of them are durable. From there each event is read and delivered on its own.
        var now = time.GetUtcNow();
        var payloads = new List<ReadOnlyMemory<byte>>(decoded.Events.Count);
        foreach (var cloudEvent in decoded.Events)
        {
            cloudEvent[ArrivalTime] = now;
            payloads.Add(CloudEventHttp.Serialize(cloudEvent));
        }

        try
        {
            await log.AppendAsync(payloads, context.RequestAborted);
        }
        catch (IOException e)
        {
            await TextAsync(context, StatusCodes.Status503ServiceUnavailable, $"the event could not be stored: {e.Message}");
            return;
        }

        // No body: Kestrel sends Content-Length: 0 with the status.
        context.Response.StatusCode = StatusCodes.Status202Accepted;
    }

    private Task TooLargeAsync(HttpContext context) =>
        TextAsync(context, StatusCodes.Status413PayloadTooLarge, $"the request is larger than {options.MaxEventBytes} bytes");

    private static Task TextAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text, context.RequestAborted);
    }

    /// <summary>
    /// The whole body, or null once it passes <paramref name="limit"/>. A Content-Length (checked against the
    /// limit before) sizes the array once; a chunked body has none, so it grows as it arrives.
    /// </summary>
    private static async Task<byte[]?> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } length)
        {
            var exact = new byte[length];
            await request.Body.ReadExactlyAsync(exact, cancellationToken);
            return exact;
        }

        var buffer = new ArrayBufferWriter<byte>(4 * 1024);
        while (true)
        {
            var memory = buffer.GetMemory(4 * 1024);
            var read = await request.Body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// The headers the binding reads, the <c>ce-</c> ones (Content-Type travels apart), not every header of the
    /// request: most of a request's fields (Host, Content-Length, User-Agent...) are no attribute.
    /// </summary>
    private static List<KeyValuePair<string, string>> EventHeaders(IHeaderDictionary headers)
    {
        var list = new List<KeyValuePair<string, string>>(8);
        foreach (var (name, values) in headers)
        {
            if (!CloudEventHttp.IsAttributeHeader(name))
            {
                continue;
            }

            foreach (var value in values)
            {
                list.Add(new(name, value ?? ""));
            }
        }

        return list;
    }
}

using System.Buffers;
using CloudNative.CloudEvents;
using Microsoft.AspNetCore.Http;
using Trellis.Eventing.CloudEvents;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// Knative's broker ingress: <c>POST /{namespace}/{broker}</c> with a CloudEvent (binary, structured
/// or a batch). 202 only once every event of the request is durable in the broker's log; 400 with
/// the reason when the request is not a valid CloudEvent (nothing is stored); 413 past the size
/// limit; 404 for a broker that does not exist; 503 while the broker is not ready.
/// </summary>
internal sealed class BrokerIngress(EventingController controller, EventingOptions options, TimeProvider time)
{
    /// <summary>Knative's ingress stamps every event with the time it arrived.</summary>
    private static readonly CloudEventAttribute ArrivalTime = CloudEventAttribute.CreateExtension("knativearrivaltime", CloudEventAttributeType.Timestamp);

    /// <summary>The answer of every stored request: one immutable result, not one per request.</summary>
    private static readonly IResult Accepted = Results.StatusCode(StatusCodes.Status202Accepted);

    public async Task<IResult> HandleAsync(HttpContext context, string ns, string broker)
    {
        var log = controller.BrokerLog(ns, broker);
        if (log is null)
        {
            return controller.BrokerExists(ns, broker)
                ? Results.Text($"broker {ns}/{broker} is not ready", statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Text($"broker {ns}/{broker} not found", statusCode: StatusCodes.Status404NotFound);
        }

        if (context.Request.ContentLength > options.MaxEventBytes)
        {
            return TooLarge();
        }

        var body = await ReadAsync(context.Request, options.MaxEventBytes, context.RequestAborted);
        if (body is null)
        {
            return TooLarge();
        }

        var decoded = CloudEventHttp.Decode(new EventMessage(context.Request.ContentType, Headers(context.Request.Headers), body));
        if (!decoded.Ok)
        {
            return Results.Text(decoded.Error, statusCode: StatusCodes.Status400BadRequest);
        }

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
            return Results.Text($"the event could not be stored: {e.Message}", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return Accepted;
    }

    private IResult TooLarge() => Results.Text($"the event is larger than {options.MaxEventBytes} bytes", statusCode: StatusCodes.Status413PayloadTooLarge);

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

    private static List<KeyValuePair<string, string>> Headers(IHeaderDictionary headers)
    {
        var list = new List<KeyValuePair<string, string>>(headers.Count);
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                list.Add(new(name, value ?? ""));
            }
        }

        return list;
    }
}

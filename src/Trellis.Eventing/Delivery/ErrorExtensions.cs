using CloudNative.CloudEvents;

namespace Trellis.Eventing.Delivery;

/// <summary>
/// What Knative adds to an event it dead-letters: <c>knativeerrordest</c> (where delivery failed),
/// <c>knativeerrorcode</c> (the last HTTP status, when there was one) and <c>knativeerrordata</c> (the
/// last answer's body, base64 of at most 1024 bytes).
/// </summary>
public static class ErrorExtensions
{
    public const int MaxErrorData = 1024;

    public static readonly CloudEventAttribute Destination = CloudEventAttribute.CreateExtension("knativeerrordest", CloudEventAttributeType.String);
    public static readonly CloudEventAttribute Code = CloudEventAttribute.CreateExtension("knativeerrorcode", CloudEventAttributeType.String);
    public static readonly CloudEventAttribute Data = CloudEventAttribute.CreateExtension("knativeerrordata", CloudEventAttributeType.String);

    public static void Add(CloudEvent cloudEvent, Uri destination, AttemptResult last)
    {
        cloudEvent[Destination] = destination.ToString();
        if (last.Status is { } status)
        {
            cloudEvent[Code] = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var body = last.Body.Length > 0 ? last.Body : System.Text.Encoding.UTF8.GetBytes(last.Error ?? "");
        if (body.Length > 0)
        {
            cloudEvent[Data] = Convert.ToBase64String(body.Span[..Math.Min(body.Length, MaxErrorData)]);
        }
    }
}

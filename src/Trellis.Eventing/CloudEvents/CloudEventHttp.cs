using System.Net.Mime;
using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;

namespace Trellis.Eventing.CloudEvents;

/// <summary>What decoding gives: the events, or the reason the message is not a valid CloudEvent (a 400).</summary>
public readonly record struct DecodeResult(IReadOnlyList<CloudEvent> Events, string? Error)
{
    public bool Ok => Error is null;

    public static DecodeResult Fail(string reason) => new([], reason);
}

/// <summary>
/// The CloudEvents HTTP protocol binding 1.0 (binary, structured and batch content modes) over the CNCF
/// SDK's model and JSON format. Every rule the SDK enforces (required attributes, attribute and
/// extension names, attribute types such as <c>time</c>) applies; each failure comes back as a value
/// with the reason, never as an exception.
/// </summary>
public static class CloudEventHttp
{
    public const string StructuredMediaType = "application/cloudevents+json";
    public const string BatchMediaType = "application/cloudevents-batch+json";
    private const string HeaderPrefix = "ce-";
    private const string SpecVersionHeader = HeaderPrefix + "specversion";

    public static JsonEventFormatter Formatter { get; } = new();

    /// <summary>A header that carries a binary-mode attribute (§3.1.3): <c>ce-</c> and a name, in any case.</summary>
    public static bool IsAttributeHeader(string name) =>
        name.Length > HeaderPrefix.Length && name.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase);

    public static DecodeResult Decode(EventMessage message)
    {
        try
        {
            var mediaType = MediaTypeOf(message.ContentType);
            if (mediaType is not null && mediaType.StartsWith("application/cloudevents-batch", StringComparison.OrdinalIgnoreCase))
            {
                return DecodeBatch(message.Body, message.ContentType!);
            }

            if (mediaType is not null && mediaType.StartsWith("application/cloudevents", StringComparison.OrdinalIgnoreCase))
            {
                if (!mediaType.Equals(StructuredMediaType, StringComparison.OrdinalIgnoreCase))
                {
                    return DecodeResult.Fail($"unsupported structured event format {mediaType}; only {StructuredMediaType} is accepted");
                }

                return Checked([Formatter.DecodeStructuredModeMessage(message.Body, new ContentType(message.ContentType!), null)]);
            }

            return DecodeBinary(message);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or JsonException or InvalidOperationException or NotSupportedException)
        {
            return DecodeResult.Fail(Reason(e));
        }
    }

    /// <summary>
    /// Batch mode (§3.3, the JSON format's batch, <c>[]</c> included): the SDK decodes the whole array in one
    /// pass. When it refuses, the elements are converted one by one to name the first bad one, so the reason
    /// says which event of the batch it is (only refusals pay for that second pass); one bad event refuses
    /// the whole batch.
    /// </summary>
    private static DecodeResult DecodeBatch(ReadOnlyMemory<byte> body, string contentType)
    {
        try
        {
            return Checked(Formatter.DecodeBatchModeMessage(body, new ContentType(contentType), null), batch: true);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or JsonException or InvalidOperationException or NotSupportedException)
        {
            return DecodeResult.Fail(BatchReason(body, e));
        }
    }

    /// <summary>Why the SDK refused a batch, with the index of the first event it refuses on its own.</summary>
    private static string BatchReason(ReadOnlyMemory<byte> body, Exception refusal)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException json)
        {
            return Reason(json);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                return $"a batch must be a JSON array, not {document.RootElement.ValueKind}";
            }

            var index = 0;
            foreach (var element in document.RootElement.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Object)
                {
                    return $"event {index} of the batch: a JSON {element.ValueKind}, not an event object";
                }

                try
                {
                    if (Formatter.ConvertFromJsonElement(element, null) is { IsValid: false } invalid)
                    {
                        return $"event {index} of the batch: {MissingReason(invalid)}";
                    }
                }
                catch (Exception e) when (e is ArgumentException or FormatException or JsonException or InvalidOperationException or NotSupportedException)
                {
                    return $"event {index} of the batch: {Reason(e)}";
                }

                index++;
            }
        }

        return Reason(refusal);
    }

    /// <summary>Binary mode (§3.1): attributes in <c>ce-</c> headers (percent-decoded), datacontenttype in Content-Type, data in the body.</summary>
    private static DecodeResult DecodeBinary(EventMessage message)
    {
        string? specVersionHeader = null;
        foreach (var (name, value) in message.Headers)
        {
            if (name.Equals(SpecVersionHeader, StringComparison.OrdinalIgnoreCase))
            {
                specVersionHeader = value;
                break;
            }
        }

        if (specVersionHeader is null)
        {
            return DecodeResult.Fail("not a CloudEvent: no ce-specversion header and the content type is not application/cloudevents+json or a batch");
        }

        var version = CloudEventsSpecVersion.FromVersionId(specVersionHeader);
        if (version is null)
        {
            return DecodeResult.Fail($"unsupported specversion '{specVersionHeader}'; only 1.0 is accepted");
        }

        var cloudEvent = new CloudEvent(version);
        foreach (var (name, value) in message.Headers)
        {
            if (!name.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase) || name.Equals(SpecVersionHeader, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var attribute = AttributeName(name);
            if (attribute == "datacontenttype")
            {
                return DecodeResult.Fail("ce-datacontenttype is not allowed in binary mode; the Content-Type header carries it");
            }

            cloudEvent.SetAttributeFromString(attribute, Uri.UnescapeDataString(value));
        }

        if (message.ContentType is not null)
        {
            cloudEvent.DataContentType = message.ContentType;
        }

        if (!message.Body.IsEmpty)
        {
            Formatter.DecodeBinaryModeEventData(message.Body, cloudEvent);
        }

        return Checked([cloudEvent]);
    }

    /// <summary>
    /// The attribute a <c>ce-</c> header names, lower-cased (header names are case-insensitive; attribute names are
    /// lower-case). The well-known ones come back as constants: no string per header per event.
    /// </summary>
    private static string AttributeName(string header)
    {
        var name = header.AsSpan(HeaderPrefix.Length);
        foreach (var known in KnownAttributes)
        {
            if (name.Equals(known, StringComparison.OrdinalIgnoreCase))
            {
                return known;
            }
        }

        return name.ToString().ToLowerInvariant();
    }

    private static readonly string[] KnownAttributes = ["id", "source", "type", "subject", "time", "dataschema", "datacontenttype"];

    /// <summary>Structured and batch decoding can yield events without required attributes; they are refused whole.</summary>
    private static DecodeResult Checked(IReadOnlyList<CloudEvent> events, bool batch = false)
    {
        for (var i = 0; i < events.Count; i++)
        {
            if (!events[i].IsValid)
            {
                var where = batch ? $"event {i} of the batch: " : "";
                return DecodeResult.Fail(where + MissingReason(events[i]));
            }
        }

        return new DecodeResult(events, null);
    }

    private static string MissingReason(CloudEvent invalid) =>
        $"missing required attribute(s) {string.Join(", ", invalid.SpecVersion.RequiredAttributes.Where(a => invalid[a] is null).Select(a => a.Name))}";

    /// <summary>Binary mode with percent-encoded header values, as the binding requires for non-ASCII and '%'.</summary>
    public static EventMessage EncodeBinary(CloudEvent cloudEvent)
    {
        var headers = new List<KeyValuePair<string, string>> { new(HeaderPrefix + "specversion", cloudEvent.SpecVersion.VersionId) };
        foreach (var (attribute, value) in cloudEvent.GetPopulatedAttributes())
        {
            if (attribute == cloudEvent.SpecVersion.DataContentTypeAttribute)
            {
                continue;
            }

            headers.Add(new(HeaderPrefix + attribute.Name, PercentEncode(attribute.Format(value))));
        }

        NormalizeData(cloudEvent);
        var body = Formatter.EncodeBinaryModeEventData(cloudEvent);
        return new EventMessage(Formatter.GetOrInferDataContentType(cloudEvent), headers, body);
    }

    public static EventMessage EncodeStructured(CloudEvent cloudEvent)
    {
        NormalizeData(cloudEvent);
        var body = Formatter.EncodeStructuredModeMessage(cloudEvent, out var contentType);
        return new EventMessage(contentType.ToString(), [], body);
    }

    /// <summary>The canonical stored form of one event: its structured JSON (the formatter's own array, not copied again).</summary>
    public static ReadOnlyMemory<byte> Serialize(CloudEvent cloudEvent)
    {
        NormalizeData(cloudEvent);
        return Formatter.EncodeStructuredModeMessage(cloudEvent, out _);
    }

    /// <summary>
    /// A structured event may carry a non-JSON, non-text type (application/xml) with string data; the
    /// SDK's encoder takes such data only as bytes, so it becomes its UTF-8 bytes (data_base64).
    /// </summary>
    private static void NormalizeData(CloudEvent cloudEvent)
    {
        if (cloudEvent.Data is string text && cloudEvent.DataContentType is { } type
            && !type.StartsWith("text/", StringComparison.OrdinalIgnoreCase) && !IsJson(MediaTypeOf(type)!))
        {
            cloudEvent.Data = Encoding.UTF8.GetBytes(text);
        }
    }

    public static CloudEvent Deserialize(ReadOnlyMemory<byte> json) => Formatter.DecodeStructuredModeMessage(json, new ContentType(StructuredMediaType), null);

    /// <summary>As the SDK's JSON formatter decides: a media type ending in /json or +json.</summary>
    private static bool IsJson(string mediaType) =>
        mediaType.EndsWith("/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);

    private static string? MediaTypeOf(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
        {
            return null;
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
    }

    /// <summary>Encodes space, '"', '%', and everything outside printable ASCII (binding §3.1.3.2).</summary>
    private static string PercentEncode(string value)
    {
        if (value.All(c => c is > ' ' and < '\u007f' and not '"' and not '%'))
        {
            return value;
        }

        var builder = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b is > (byte)' ' and < 0x7f and not (byte)'"' and not (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>The SDK's messages name the attribute; JSON errors say where the document broke.</summary>
    private static string Reason(Exception e)
    {
        // An ArgumentException's message ends in " (Parameter 'element')": the SDK's parameter, nothing for the sender.
        var message = e is ArgumentException { ParamName: { } parameter } ? e.Message.Replace($" (Parameter '{parameter}')", "", StringComparison.Ordinal) : e.Message;
        return e switch
        {
            JsonException json => $"malformed JSON: {json.Message}",
            _ when message.StartsWith("Structured mode content does not represent a CloudEvent", StringComparison.Ordinal) => "the structured event has no specversion",
            _ when message.StartsWith("CloudEvent is missing required attributes", StringComparison.Ordinal) => "missing required attribute(s) " + message["CloudEvent is missing required attributes".Length..].TrimStart(':', ' '),
            _ => message,
        };
    }
}

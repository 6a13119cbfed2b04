using System.Text;
using CloudNative.CloudEvents;
using Trellis.Api.Eventing;

namespace Trellis.Eventing.Sources;

/// <summary>The event a PingSource sends, as Knative's ping adapter builds it.</summary>
public static class PingEvent
{
    public const string Type = "dev.knative.sources.ping";

    public static CloudEvent Create(string ns, string name, PingSourceSpec spec, DateTimeOffset scheduled, string id)
    {
        var cloudEvent = new CloudEvent
        {
            Id = id,
            Type = Type,
            Source = new Uri($"/apis/v1/namespaces/{ns}/pingsources/{name}", UriKind.Relative),
            Time = scheduled,
        };
        if (spec.DataBase64 is { } b64)
        {
            cloudEvent.Data = Convert.FromBase64String(b64);
            cloudEvent.DataContentType = spec.ContentType ?? "application/octet-stream";
        }
        else if (spec.Data is { } data)
        {
            // Text and JSON stay text: the binary encoder writes them as they are.
            cloudEvent.Data = Encoding.UTF8.GetBytes(data);
            cloudEvent.DataContentType = spec.ContentType ?? "text/plain";
        }

        foreach (var (key, value) in spec.CeOverrides?.Extensions ?? new Dictionary<string, string>())
        {
            cloudEvent.SetAttributeFromString(key, value);
        }

        return cloudEvent;
    }
}

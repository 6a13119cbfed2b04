using CloudNative.CloudEvents;
using Trellis.Eventing.Cesql;

namespace Trellis.Eventing.CloudEvents;

/// <summary>
/// A CloudEvent as CESQL sees it (§3.2): Boolean and Integer extensions keep their type, every other
/// attribute is a String in its canonical CloudEvents form (URIs as written, timestamps RFC 3339).
/// </summary>
public sealed class CloudEventCesqlView(CloudEvent cloudEvent) : ICesqlEvent
{
    public bool TryGetAttribute(string name, out CesqlValue value)
    {
        if (name == "specversion")
        {
            value = CesqlValue.Of(cloudEvent.SpecVersion.VersionId);
            return true;
        }

        var attribute = cloudEvent.GetAttribute(name);
        var raw = attribute is null ? null : cloudEvent[attribute];
        if (attribute is null || raw is null)
        {
            value = default;
            return false;
        }

        value = raw switch
        {
            bool b => CesqlValue.Of(b),
            int i => CesqlValue.Of(i),
            _ => CesqlValue.Of(attribute.Format(raw)),
        };
        return true;
    }
}

using System.Globalization;
using System.Text.Json.Nodes;

namespace Trellis.ControlPlane.Events;

/// <summary>
/// The last events of this control plane replica, in memory (Kubernetes keeps events for an hour; here the newest
/// <see cref="Capacity"/>, gone at restart). A repeat of the newest event of an object (same reason and message)
/// counts up and moves its last timestamp, as Kubernetes' event aggregation does.
/// </summary>
public sealed class EventLog(TimeProvider time)
{
    public const int Capacity = 1000;

    private readonly object _gate = new();
    private readonly LinkedList<Entry> _entries = new();
    private long _sequence;

    public void Record(IEnumerable<EventDraft> drafts)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            foreach (var draft in drafts)
            {
                LinkedListNode<Entry>? last = null;
                for (var node = _entries.Last; node is not null; node = node.Previous)
                {
                    if (node.Value.Draft.Object == draft.Object)
                    {
                        last = node;
                        break;
                    }
                }

                if (last is not null && last.Value.Draft == draft)
                {
                    last.Value.Count++;
                    last.Value.Last = now;
                    continue;
                }

                _entries.AddLast(new Entry(draft, ++_sequence, now));
                if (_entries.Count > Capacity)
                {
                    _entries.RemoveFirst();
                }
            }
        }
    }

    /// <summary>Kubernetes <c>Event</c> objects (core v1), oldest first; all namespaces when <paramref name="ns"/> is null.</summary>
    public IReadOnlyList<JsonObject> List(string? ns)
    {
        lock (_gate)
        {
            return _entries.Where(e => ns is null || e.Draft.Object.Namespace == ns).Select(Render).ToList();
        }
    }

    private static JsonObject Render(Entry e)
    {
        var o = e.Draft.Object;
        var json = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject
            {
                ["name"] = string.Create(CultureInfo.InvariantCulture, $"{o.Name}.{e.Sequence:x}"),
                ["namespace"] = o.Namespace,
                ["creationTimestamp"] = e.First,
            },
            ["involvedObject"] = Reference(o),
            ["reason"] = e.Draft.Reason,
            ["message"] = e.Draft.Message,
            ["type"] = e.Draft.Type,
            ["count"] = e.Count,
            ["firstTimestamp"] = e.First,
            ["lastTimestamp"] = e.Last,
            ["source"] = new JsonObject { ["component"] = "trellis-controlplane" },
        };
        if (e.Draft.Related is { } related)
        {
            json["related"] = Reference(related);
        }

        return json;
    }

    private static JsonObject Reference(EventObject o) => new()
    {
        ["apiVersion"] = o.ApiVersion,
        ["kind"] = o.Kind,
        ["namespace"] = o.Namespace,
        ["name"] = o.Name,
    };

    private sealed class Entry(EventDraft draft, long sequence, DateTimeOffset first)
    {
        public EventDraft Draft { get; } = draft;

        public long Sequence { get; } = sequence;

        public DateTimeOffset First { get; } = first;

        public DateTimeOffset Last { get; set; } = first;

        public int Count { get; set; } = 1;
    }
}

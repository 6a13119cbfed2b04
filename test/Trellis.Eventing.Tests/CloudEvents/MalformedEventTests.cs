using System.Text;
using Trellis.Eventing.CloudEvents;

namespace Trellis.Eventing.Tests.CloudEvents;

/// <summary>Each way a message can fail to be a CloudEvent is refused with a reason that names the fault.</summary>
public sealed class MalformedEventTests
{
    private static readonly (string, string)[] Required = [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")];

    public static TheoryData<string, string?, string[], string, string> Cases() => new()
    {
        { "binary without specversion", "application/json", ["ce-id", "1", "ce-source", "/s", "ce-type", "t"], "{}", "ce-specversion" },
        { "binary with an unknown specversion", "application/json", ["ce-specversion", "2.0", "ce-id", "1", "ce-source", "/s", "ce-type", "t"], "{}", "unsupported specversion '2.0'" },
        { "binary without id", "application/json", ["ce-specversion", "1.0", "ce-source", "/s", "ce-type", "t"], "{}", "id" },
        { "binary with a bad time", "application/json", [.. Flat(Required), "ce-time", "yesterday"], "{}", "time" },
        { "binary with an invalid extension name", "application/json", [.. Flat(Required), "ce-my_ext", "x"], "{}", "my_ext" },
        { "binary with an upper-case-only invalid name", "application/json", [.. Flat(Required), "ce-a.b", "x"], "{}", "a.b" },
        { "binary with datacontenttype as a header", "application/json", [.. Flat(Required), "ce-datacontenttype", "text/plain"], "{}", "Content-Type" },
        { "plain request, no CloudEvent at all", "text/plain", [], "hello", "not a CloudEvent" },
        { "structured in an unsupported format", "application/cloudevents+xml", [], "<e/>", "unsupported structured event format" },
        { "structured without specversion", "application/cloudevents+json", [], """{"id":"1","source":"/s","type":"t"}""", "specversion" },
        { "structured with a bad time", "application/cloudevents+json", [], """{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"noon"}""", "time" },
        { "structured with an invalid extension name", "application/cloudevents+json", [], """{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad-Name":"x"}""", "Bad-Name" },
        { "structured, malformed JSON", "application/cloudevents+json", [], """{"specversion":"1.0",""", "JSON" },
        { "batch with one bad event", "application/cloudevents-batch+json", [], """[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","source":"/s","type":"t"}]""", "event 1 of the batch: missing required attribute(s)" },
        { "batch that is not an array", "application/cloudevents-batch+json", [], """{"specversion":"1.0","id":"1","source":"/s","type":"t"}""", "must be a JSON array" },
        { "batch with a bad time in its third event", "application/cloudevents-batch+json", [], """[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","id":"2","source":"/s","type":"t"},{"specversion":"1.0","id":"3","source":"/s","type":"t","time":"noon"}]""", "event 2 of the batch: " },
        { "batch with an invalid extension name", "application/cloudevents-batch+json; charset=utf-8", [], """[{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad_Name":"x"}]""", "event 0 of the batch: " },
        { "batch with an element that is no object", "application/cloudevents-batch+json", [], """[{"specversion":"1.0","id":"1","source":"/s","type":"t"},42]""", "event 1 of the batch: a JSON Number" },
        { "batch with an event without specversion", "application/cloudevents-batch+json", [], """[{"id":"1","source":"/s","type":"t"}]""", "event 0 of the batch: the structured event has no specversion" },
        { "batch, malformed JSON", "application/cloudevents-batch+json", [], """[{"specversion":"1.0",""", "malformed JSON" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decode_Malformed_FailsWithReason(string name, string? contentType, string[] headers, string body, string reason)
    {
        var pairs = headers.Chunk(2).Select(p => new KeyValuePair<string, string>(p[0], p[1])).ToList();
        var result = CloudEventHttp.Decode(new EventMessage(contentType, pairs, Encoding.UTF8.GetBytes(body)));

        Assert.False(result.Ok, name);
        Assert.Empty(result.Events);
        Assert.True(result.Error!.Contains(reason, StringComparison.OrdinalIgnoreCase), result.Error);
    }

    [Fact]
    public void Decode_Batch_GivesEveryEvent()
    {
        var body = """[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","id":"2","source":"/s","type":"t","data":{"a":1}}]""";
        var result = CloudEventHttp.Decode(new EventMessage(CloudEventHttp.BatchMediaType, [], Encoding.UTF8.GetBytes(body)));

        Assert.True(result.Ok, result.Error);
        Assert.Equal(["1", "2"], result.Events.Select(e => e.Id));
    }

    [Fact]
    public void Decode_BatchWithoutAnId_NamesTheEventAndTheAttributeOnly()
    {
        var body = """[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","source":"/s","type":"t"}]""";
        var result = CloudEventHttp.Decode(new EventMessage(CloudEventHttp.BatchMediaType, [], Encoding.UTF8.GetBytes(body)));

        Assert.Equal("event 1 of the batch: missing required attribute(s) id", result.Error);
    }

    [Theory]
    [InlineData("application/cloudevents-batch+json")]
    [InlineData("application/cloudevents-batch+json; charset=utf-8")]
    public void Decode_EmptyBatch_IsValidWithNoEvents(string contentType)
    {
        var result = CloudEventHttp.Decode(new EventMessage(contentType, [], Encoding.UTF8.GetBytes(" [ ] ")));

        Assert.True(result.Ok, result.Error);
        Assert.Empty(result.Events);
    }

    [Fact]
    public void EncodeBinary_PercentEncodesNonAscii_AndDecodesBack()
    {
        var cloudEvent = new CloudNative.CloudEvents.CloudEvent { Id = "1", Source = new Uri("/s", UriKind.Relative), Type = "t", Subject = "caf\u00e9 50% \"x\"" };
        var message = CloudEventHttp.EncodeBinary(cloudEvent);

        Assert.Contains(message.Headers, h => h.Key == "ce-subject" && h.Value == "caf%C3%A9%2050%25%20%22x%22");
        Assert.Equal(cloudEvent.Subject, CloudEventHttp.Decode(message).Events[0].Subject);
    }

    private static IEnumerable<string> Flat((string, string)[] pairs) => pairs.SelectMany(p => new[] { p.Item1, p.Item2 });
}

using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>
/// A small OTLP/HTTP receiver (<c>POST /v1/traces</c>, protobuf bodies) that decodes what arrives into spans, read at the
/// wire level from opentelemetry-proto's <c>ExportTraceServiceRequest</c> (resource spans 1, scope spans 2, spans 2; a
/// span's trace id 1, span id 2, parent id 4, name 5, kind 6, attributes 9), so a test sees what an OTLP collector would.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly TestBackend _server;

    private OtlpReceiver(TestBackend server) => _server = server;

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    public string Endpoint => $"http://127.0.0.1:{_server.Endpoint.Port}/v1/traces";

    public static async Task<OtlpReceiver> StartAsync()
    {
        OtlpReceiver? receiver = null;
        var server = await TestBackend.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            foreach (var span in Decode(body.ToArray()))
            {
                receiver!.Spans.Enqueue(span);
            }

            context.Response.StatusCode = (int)HttpStatusCode.OK;
            context.Response.ContentType = "application/x-protobuf";
        });
        receiver = new OtlpReceiver(server);
        return receiver;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static IEnumerable<ReceivedSpan> Decode(byte[] request)
    {
        foreach (var resourceSpans in Fields(request).Where(f => f.Number == 1).Select(f => f.Bytes!))
        {
            var service = Fields(resourceSpans).Where(f => f.Number == 1).SelectMany(r => Attributes(r.Bytes!)).FirstOrDefault(a => a.Key == "service.name").Value;
            foreach (var scopeSpans in Fields(resourceSpans).Where(f => f.Number == 2).Select(f => f.Bytes!))
            {
                foreach (var span in Fields(scopeSpans).Where(f => f.Number == 2).Select(f => f.Bytes!))
                {
                    var fields = Fields(span).ToList();
                    yield return new ReceivedSpan(
                        Convert.ToHexStringLower(fields.First(f => f.Number == 1).Bytes!),
                        Convert.ToHexStringLower(fields.First(f => f.Number == 2).Bytes!),
                        fields.FirstOrDefault(f => f.Number == 4).Bytes is { Length: > 0 } parent ? Convert.ToHexStringLower(parent) : "",
                        fields.FirstOrDefault(f => f.Number == 5).Bytes is { } name ? System.Text.Encoding.UTF8.GetString(name) : "",
                        (int)fields.FirstOrDefault(f => f.Number == 6).Value,
                        fields.Where(f => f.Number == 9).SelectMany(f => Attributes(f.Bytes!, single: true)).ToDictionary(a => a.Key, a => a.Value),
                        service ?? "");
                }
            }
        }
    }

    /// <summary>KeyValue messages (key 1, AnyValue 2 with string_value 1) of a message whose attributes are field 1, or one KeyValue.</summary>
    private static IEnumerable<KeyValuePair<string, string>> Attributes(byte[] message, bool single = false)
    {
        foreach (var kv in single ? [message] : Fields(message).Where(f => f.Number == 1).Select(f => f.Bytes!))
        {
            var fields = Fields(kv).ToList();
            var key = System.Text.Encoding.UTF8.GetString(fields.First(f => f.Number == 1).Bytes!);
            var any = fields.FirstOrDefault(f => f.Number == 2).Bytes ?? [];
            var value = Fields(any).FirstOrDefault();
            yield return new(key, value.Bytes is { } text ? System.Text.Encoding.UTF8.GetString(text) : value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static IEnumerable<(int Number, byte[]? Bytes, ulong Value)> Fields(byte[] message)
    {
        var input = new CodedInputStream(message);
        var fields = new List<(int, byte[]?, ulong)>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            switch (WireFormat.GetTagWireType(tag))
            {
                case WireFormat.WireType.LengthDelimited: fields.Add((number, input.ReadBytes().ToByteArray(), 0)); break;
                case WireFormat.WireType.Varint: fields.Add((number, null, input.ReadUInt64())); break;
                case WireFormat.WireType.Fixed64: fields.Add((number, null, input.ReadFixed64())); break;
                case WireFormat.WireType.Fixed32: fields.Add((number, null, input.ReadFixed32())); break;
                default: input.SkipLastField(); break;
            }
        }

        return fields;
    }
}

/// <param name="Kind">OTLP's SpanKind: 2 server, 3 client.</param>
internal sealed record ReceivedSpan(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes, string Service);

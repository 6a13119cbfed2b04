using System.Buffers.Binary;
using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Telemetry.Tracing;

/// <summary>
/// Where the spans of one workload go: an OpenTelemetry SDK tracer provider with the OTLP exporter (HTTP/protobuf or
/// gRPC, batched off the request path) for one endpoint, and the activity source the proxy records that workload's spans
/// with. The resource is the workload as Istio names it in traces (<c>service.name</c> = canonical service and namespace).
/// Only requests the proxy sampled get a span: the provider samples everything it is given.
/// </summary>
internal sealed class SpanExporter : IDisposable
{
    private readonly ActivitySource _source;
    private readonly TracerProvider _provider;

    public SpanExporter(string endpoint, OtlpProtocol protocol, string service)
    {
        // One source per exporter: a provider listens to sources by name, so two workloads or endpoints never share one.
        var name = $"Trellis.Proxy:{service}:{endpoint}";
        _source = new ActivitySource(name);
        _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(name)
            .SetSampler(new AlwaysOnSampler())
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(service))
            .AddOtlpExporter(o =>
            {
                // Set in code, the endpoint is used as it is: the mesh config's http.path is already in it.
                o.Endpoint = new Uri(endpoint);
                o.Protocol = protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                o.ExportProcessorType = ExportProcessorType.Batch;
                o.BatchExportProcessorOptions = new BatchExportActivityProcessorOptions { ScheduledDelayMilliseconds = 1000 };
            })
            .Build();
    }

    /// <summary>
    /// Starts this hop's span at <paramref name="start"/>: a child of the caller's span (<paramref name="parent"/>), or
    /// the root of the trace this hop started. The span's id becomes the hop's, so the upstream request names it as its
    /// parent; a root span's trace id becomes the trace's. Null when the source has no listener (the provider is gone).
    /// </summary>
    public Activity? Start(ref TraceContext trace, ulong parent, ActivityKind kind, DateTimeOffset start)
    {
        var context = parent == 0 ? default : new ActivityContext(TraceId(trace), SpanId(parent), ActivityTraceFlags.Recorded, isRemote: true);
        var activity = _source.CreateActivity("proxy", kind, context);
        if (activity is null)
        {
            return null;
        }

        activity.SetStartTime(start.UtcDateTime);
        // Start makes the span Activity.Current; the request's flow must not carry it on (the engines run many requests).
        var previous = Activity.Current;
        activity.Start();
        Activity.Current = previous;
        Span<byte> bytes = stackalloc byte[16];
        activity.TraceId.CopyTo(bytes);
        activity.SpanId.CopyTo(bytes[..8]);
        var span = BinaryPrimitives.ReadUInt64BigEndian(bytes[..8]);
        activity.TraceId.CopyTo(bytes);
        trace = new TraceContext(BinaryPrimitives.ReadUInt64BigEndian(bytes[..8]), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]), span, Sampled: true);
        return activity;
    }

    /// <summary>Sends what is queued (tests, shutdown).</summary>
    public bool Flush(int timeoutMilliseconds = 5000) => _provider.ForceFlush(timeoutMilliseconds);

    public void Dispose()
    {
        _provider.Dispose();
        _source.Dispose();
    }

    private static ActivityTraceId TraceId(in TraceContext trace)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, trace.TraceHigh);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], trace.TraceLow);
        return ActivityTraceId.CreateFromBytes(bytes);
    }

    private static ActivitySpanId SpanId(ulong id)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, id);
        return ActivitySpanId.CreateFromBytes(bytes);
    }
}

using System.Buffers;
using System.Text;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// Istio's HTTP metadata exchange (the <c>istio.metadata_exchange</c> filter): a client-side proxy tells the server-side
/// proxy who is calling in <c>x-envoy-peer-metadata</c>, the base64 of a protobuf <c>google.protobuf.Struct</c> with the
/// node metadata Istio's stats plugin reads (<c>WORKLOAD_NAME</c>, <c>NAMESPACE</c>, <c>LABELS</c>, <c>CLUSTER_ID</c>,
/// <c>NAME</c>), and <c>x-envoy-peer-metadata-id</c>; the server side reads them for its <c>source_*</c> labels and
/// removes them before the application sees the request. Without mTLS the server cannot check the claim (Istio's
/// plaintext exchange cannot either); the principals stay "unknown" until identities exist.
/// </summary>
internal static class PeerMetadata
{
    public const string Header = "x-envoy-peer-metadata";
    public const string IdHeader = "x-envoy-peer-metadata-id";

    /// <summary>Longest header value read; Istio's are a few hundred bytes.</summary>
    public const int MaxEncodedLength = 4096;

    /// <summary>The header value for <paramref name="workload"/>: base64 of the Struct.</summary>
    public static string Encode(WorkloadMetadata workload)
    {
        var fields = new List<(string, object)>
        {
            ("NAME", workload.Pod ?? workload.Name),
            ("NAMESPACE", workload.Namespace),
            ("WORKLOAD_NAME", workload.Name),
            ("CLUSTER_ID", Metrics.PeerLabels.DefaultCluster),
        };
        if (workload.Labels is { Count: > 0 } labels)
        {
            fields.Add(("LABELS", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => (l.Key, (object)l.Value)).ToList()));
        }

        var buffer = new ArrayBufferWriter<byte>();
        WriteStruct(buffer, fields);
        return Convert.ToBase64String(buffer.WrittenSpan);
    }

    /// <summary>The <c>x-envoy-peer-metadata-id</c> value, Istio's node id form: <c>sidecar~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local</c>.</summary>
    public static string Id(WorkloadMetadata workload, string ip) => $"sidecar~{ip}~{workload.Name}.{workload.Namespace}~{workload.Namespace}.svc.cluster.local";

    /// <summary>
    /// Reads a header value; null when it is not base64 of a Struct (a broken or hostile header is ignored, never an
    /// error: the request is then from an unknown source).
    /// </summary>
    public static WorkloadMetadata? Decode(ReadOnlySpan<char> value)
    {
        if (value.Length == 0 || value.Length > MaxEncodedLength)
        {
            return null;
        }

        var bytes = new byte[value.Length];
        if (!Convert.TryFromBase64Chars(value, bytes, out var length))
        {
            return null;
        }

        var reader = new StructReader(bytes.AsMemory(0, length));
        string? name = null, ns = null, workload = null;
        Dictionary<string, string>? labels = null;
        while (reader.NextField(out var key, out var kind, out var payload))
        {
            if (key is null)
            {
                return null;
            }

            switch (key, kind)
            {
                case ("WORKLOAD_NAME", ValueKind.String):
                    workload = Encoding.UTF8.GetString(payload.Span);
                    break;
                case ("NAME", ValueKind.String):
                    name = Encoding.UTF8.GetString(payload.Span);
                    break;
                case ("NAMESPACE", ValueKind.String):
                    ns = Encoding.UTF8.GetString(payload.Span);
                    break;
                case ("LABELS", ValueKind.Struct):
                    labels = ReadLabels(payload);
                    if (labels is null)
                    {
                        return null;
                    }

                    break;
            }
        }

        if (!reader.Valid || (workload ?? name) is not { Length: > 0 } workloadName)
        {
            return null;
        }

        // NAME is the pod when WORKLOAD_NAME names the workload (Istio's node metadata); alone, it names both.
        return new WorkloadMetadata(workloadName, ns ?? string.Empty, labels, Pod: workload is not null && name is { Length: > 0 } && name != workload ? name : null);
    }

    private static Dictionary<string, string>? ReadLabels(ReadOnlyMemory<byte> payload)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new StructReader(payload);
        while (reader.NextField(out var key, out var kind, out var value))
        {
            if (key is null)
            {
                return null;
            }

            if (kind == ValueKind.String)
            {
                labels[key] = Encoding.UTF8.GetString(value.Span);
            }
        }

        return reader.Valid ? labels : null;
    }

    private enum ValueKind
    {
        Other,
        String,
        Struct,
    }

    /// <summary>
    /// The entries of a protobuf <c>Struct</c> (field 1, map entries of key 1 and <c>Value</c> 2), with the string
    /// (3) and struct (5) kinds of a <c>Value</c>; other kinds and unknown fields are skipped. Every length is checked.
    /// </summary>
    private struct StructReader(ReadOnlyMemory<byte> data)
    {
        private ReadOnlyMemory<byte> _rest = data;

        public bool Valid { get; private set; } = true;

        public bool NextField(out string? key, out ValueKind kind, out ReadOnlyMemory<byte> payload)
        {
            key = null;
            kind = ValueKind.Other;
            payload = default;
            while (!_rest.IsEmpty)
            {
                if (!Next(ref _rest, out var field, out var wire, out var entry))
                {
                    Valid = false;
                    return false;
                }

                if (field != 1 || wire != 2)
                {
                    continue;
                }

                while (!entry.IsEmpty)
                {
                    if (!Next(ref entry, out var f, out var w, out var bytes))
                    {
                        Valid = false;
                        return false;
                    }

                    if (f == 1 && w == 2)
                    {
                        key = Encoding.UTF8.GetString(bytes.Span);
                    }
                    else if (f == 2 && w == 2)
                    {
                        var value = bytes;
                        while (!value.IsEmpty)
                        {
                            if (!Next(ref value, out var vf, out var vw, out var vbytes))
                            {
                                Valid = false;
                                return false;
                            }

                            if (vw == 2 && vf is 3 or 5)
                            {
                                kind = vf == 3 ? ValueKind.String : ValueKind.Struct;
                                payload = vbytes;
                            }
                        }
                    }
                }

                return true;
            }

            return false;
        }

        /// <summary>One field: its number, wire type and, for length-delimited fields, its bytes; false when malformed.</summary>
        private static bool Next(ref ReadOnlyMemory<byte> data, out int field, out int wire, out ReadOnlyMemory<byte> bytes)
        {
            bytes = default;
            field = 0;
            wire = 0;
            if (!Varint(ref data, out var tag))
            {
                return false;
            }

            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            switch (wire)
            {
                case 0:
                    return Varint(ref data, out _);
                case 1:
                    return Skip(ref data, 8);
                case 5:
                    return Skip(ref data, 4);
                case 2:
                    if (!Varint(ref data, out var length) || length > (ulong)data.Length)
                    {
                        return false;
                    }

                    bytes = data[..(int)length];
                    data = data[(int)length..];
                    return true;
                default:
                    return false;
            }
        }

        private static bool Skip(ref ReadOnlyMemory<byte> data, int count)
        {
            if (data.Length < count)
            {
                return false;
            }

            data = data[count..];
            return true;
        }

        private static bool Varint(ref ReadOnlyMemory<byte> data, out ulong value)
        {
            value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (data.IsEmpty)
                {
                    return false;
                }

                var b = data.Span[0];
                data = data[1..];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private static void WriteStruct(ArrayBufferWriter<byte> output, IEnumerable<(string Key, object Value)> fields)
    {
        foreach (var (key, value) in fields)
        {
            var entry = new ArrayBufferWriter<byte>();
            WriteBytes(entry, 1, Encoding.UTF8.GetBytes(key));
            var wrapped = new ArrayBufferWriter<byte>();
            if (value is string text)
            {
                WriteBytes(wrapped, 3, Encoding.UTF8.GetBytes(text));
            }
            else
            {
                var nested = new ArrayBufferWriter<byte>();
                WriteStruct(nested, (List<(string, object)>)value);
                WriteBytes(wrapped, 5, nested.WrittenSpan);
            }

            WriteBytes(entry, 2, wrapped.WrittenSpan);
            WriteBytes(output, 1, entry.WrittenSpan);
        }
    }

    private static void WriteBytes(ArrayBufferWriter<byte> output, int field, ReadOnlySpan<byte> bytes)
    {
        WriteVarint(output, (ulong)((field << 3) | 2));
        WriteVarint(output, (ulong)bytes.Length);
        output.Write(bytes);
    }

    private static void WriteVarint(ArrayBufferWriter<byte> output, ulong value)
    {
        while (value >= 0x80)
        {
            output.Write([(byte)(value | 0x80)]);
            value >>= 7;
        }

        output.Write([(byte)value]);
    }
}

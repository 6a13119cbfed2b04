using System.Buffers.Binary;

namespace Trellis.Eventing.Storage.JetStream;

/// <summary>
/// How an append travels as one JetStream message. A single event is the message body as it is (the
/// structured CloudEvent, readable by any NATS client); several events carry the
/// <see cref="CountHeader"/> and the body <c>(length:u32 little-endian, event)*</c>.
/// </summary>
internal static class AppendFrame
{
    public const string CountHeader = "Trellis-Events";

    public static byte[] Pack(IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        var body = new byte[payloads.Sum(p => 4 + p.Length)];
        var offset = 0;
        foreach (var payload in payloads)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(offset), (uint)payload.Length);
            payload.Span.CopyTo(body.AsSpan(offset + 4));
            offset += 4 + payload.Length;
        }

        return body;
    }

    /// <summary>The events of one message; null when a framed body does not match its count (not ours, or damaged).</summary>
    public static List<ReadOnlyMemory<byte>>? Unpack(ReadOnlyMemory<byte> body, string? count)
    {
        if (count is null)
        {
            return [body];
        }

        if (!int.TryParse(count, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < 1)
        {
            return null;
        }

        var events = new List<ReadOnlyMemory<byte>>(n);
        var offset = 0;
        for (var i = 0; i < n; i++)
        {
            if (body.Length - offset < 4)
            {
                return null;
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(body.Span[offset..]);
            if (length > (uint)(body.Length - offset - 4))
            {
                return null;
            }

            events.Add(body.Slice(offset + 4, (int)length));
            offset += 4 + (int)length;
        }

        return offset == body.Length ? events : null;
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace Trellis.Eventing.Storage;

/// <summary>
/// One record of a log segment: <c>length:u32 crc32:u32 sequence:u64 payload</c>, little-endian; the
/// CRC covers the sequence and the payload, so a torn or corrupt record is recognised and cut off.
/// </summary>
internal static class LogRecord
{
    public const int HeaderSize = 16;

    /// <summary>Events larger than this are refused before they reach the log (the broker answers 413 earlier).</summary>
    public const int MaxPayload = 64 * 1024 * 1024;

    public static void Write(IBufferWriter<byte> output, long sequence, ReadOnlySpan<byte> payload)
    {
        var span = output.GetSpan(HeaderSize + payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], sequence);
        payload.CopyTo(span[HeaderSize..]);
        var crc = new Crc32();
        crc.Append(span.Slice(8, 8 + payload.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], crc.GetCurrentHashAsUInt32());
        output.Advance(HeaderSize + payload.Length);
    }

    /// <summary>Reads the record at the start of <paramref name="data"/>; false when it is incomplete or corrupt.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out long sequence, out int payloadLength)
    {
        sequence = 0;
        payloadLength = 0;
        if (data.Length < HeaderSize)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (length > MaxPayload || data.Length < HeaderSize + (int)length)
        {
            return false;
        }

        var crc = new Crc32();
        crc.Append(data.Slice(8, 8 + (int)length));
        if (crc.GetCurrentHashAsUInt32() != BinaryPrimitives.ReadUInt32LittleEndian(data[4..]))
        {
            return false;
        }

        sequence = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
        payloadLength = (int)length;
        return true;
    }
}

using System.Buffers.Binary;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Http2;

/// <summary>Frame types (RFC 9113 §6).</summary>
internal enum FrameType : byte
{
    Data = 0x0,
    Headers = 0x1,
    Priority = 0x2,
    RstStream = 0x3,
    Settings = 0x4,
    PushPromise = 0x5,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

/// <summary>Error codes (RFC 9113 §7).</summary>
internal enum Http2Error : uint
{
    NoError = 0x0,
    ProtocolError = 0x1,
    InternalError = 0x2,
    FlowControlError = 0x3,
    StreamClosed = 0x5,
    FrameSizeError = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    CompressionError = 0x9,
    EnhanceYourCalm = 0xb,
}

/// <summary>Frame flags; each is meaningful only for some types.</summary>
internal static class FrameFlags
{
    public const byte EndStream = 0x1;
    public const byte Ack = 0x1;
    public const byte EndHeaders = 0x4;
    public const byte Padded = 0x8;
    public const byte Priority = 0x20;
}

/// <summary>SETTINGS parameters (RFC 9113 §6.5.2).</summary>
internal static class SettingIds
{
    public const ushort HeaderTableSize = 0x1;
    public const ushort EnablePush = 0x2;
    public const ushort MaxConcurrentStreams = 0x3;
    public const ushort InitialWindowSize = 0x4;
    public const ushort MaxFrameSize = 0x5;
    public const ushort MaxHeaderListSize = 0x6;
}

/// <summary>The 9-byte frame header (RFC 9113 §4.1).</summary>
internal readonly record struct FrameHeader(int Length, FrameType Type, byte Flags, int StreamId)
{
    public const int Size = 9;

    /// <summary>The smallest SETTINGS_MAX_FRAME_SIZE, and the one this server keeps: no frame it reads or writes is larger.</summary>
    public const int MaxPayload = 16384;

    public const int MaxWindow = int.MaxValue;

    public bool Has(byte flag) => (Flags & flag) != 0;

    public static FrameHeader Read(ReadOnlySpan<byte> bytes) => new(
        (bytes[0] << 16) | (bytes[1] << 8) | bytes[2],
        (FrameType)bytes[3],
        bytes[4],
        (int)(BinaryPrimitives.ReadUInt32BigEndian(bytes[5..]) & 0x7fffffff)); // the reserved bit is ignored

    public static void Write(HeadBuilder output, int length, FrameType type, byte flags, int streamId)
    {
        var span = output.GetSpan(Size);
        span[0] = (byte)(length >> 16);
        span[1] = (byte)(length >> 8);
        span[2] = (byte)length;
        span[3] = (byte)type;
        span[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(span[5..], streamId);
        output.Advance(Size);
    }

    /// <summary>A frame whose payload is one 32-bit value: RST_STREAM's error code, WINDOW_UPDATE's increment.</summary>
    public static void WriteUInt32Frame(HeadBuilder output, FrameType type, int streamId, uint value)
    {
        Write(output, 4, type, 0, streamId);
        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(4), value);
        output.Advance(4);
    }
}

/// <summary>A connection error (RFC 9113 §5.4.1): the connection ends with GOAWAY carrying the code.</summary>
internal sealed class Http2ConnectionException(Http2Error error, string message) : Exception(message)
{
    public Http2Error Error { get; } = error;
}

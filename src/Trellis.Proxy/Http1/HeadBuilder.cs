using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Trellis.Proxy.Http1;

/// <summary>
/// Writes a message head into a pooled buffer that grows when needed. Header names and values from
/// configuration are written as Latin-1, one byte per char, as HTTP/1.1 puts them on the wire.
/// </summary>
internal sealed class HeadBuilder : IBufferWriter<byte>
{
    private byte[] _buffer;

    public HeadBuilder(int size) => _buffer = ArrayPool<byte>.Shared.Rent(size);

    public int Length { get; private set; }

    public byte[] Buffer => _buffer;

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, Length);

    public int Free => _buffer.Length - Length;

    public void Clear() => Length = 0;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void Append(string text)
    {
        Reserve(text.Length);
        Length += Encoding.Latin1.GetBytes(text, _buffer.AsSpan(Length));
    }

    public void Append(long number)
    {
        Reserve(20);
        Utf8Formatter.TryFormat(number, _buffer.AsSpan(Length), out var written);
        Length += written;
    }

    public void AppendHex(int number)
    {
        Reserve(8);
        Utf8Formatter.TryFormat(number, _buffer.AsSpan(Length), out var written, new StandardFormat('x'));
        Length += written;
    }

    public void AppendCrLf() => Append("\r\n"u8);

    public void AppendHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Append(name);
        Append(": "u8);
        Append(value);
        AppendCrLf();
    }

    public void AppendHeader(string name, string value)
    {
        Append(name);
        Append(": "u8);
        Append(value);
        AppendCrLf();
    }

    /// <summary>Makes room for <paramref name="sizeHint"/> more (at least one) and returns the span to write them into (then call <see cref="Advance"/>).</summary>
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(Math.Max(sizeHint, 1));
        return _buffer.AsSpan(Length);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(Length);
    }

    public void Advance(int count) => Length += count;

    /// <summary>Gives the buffer back to the pool; the builder is unusable afterwards. Not IDisposable: its owner's loop ends with it.</summary>
    public void ReturnBuffer()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void Reserve(int bytes)
    {
        if (Length + bytes <= _buffer.Length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + bytes));
        _buffer.AsSpan(0, Length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}

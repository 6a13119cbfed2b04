using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Trellis.ControlPlane.Push;

/// <summary>
/// Reads the push stream's request body (NDJSON: the hello, then ACK/NACK lines) straight from Kestrel's pipe and
/// binds each line from its bytes. A change wakes a thousand streams and each answers with an ACK, so the control
/// plane reads a thousand lines per change: no stream adapter, no decoding to strings (bench/run push).
/// </summary>
internal static class NdjsonReader
{
    /// <summary>A line longer than this is not a hello or an ACK: the stream ends as if the proxy had closed it.</summary>
    internal const int MaxLineBytes = 1024 * 1024;

    /// <summary>
    /// The next line bound to <typeparamref name="T"/>, skipping empty ones; null when the body ends (or a line exceeds
    /// <see cref="MaxLineBytes"/>). A line that is not valid JSON of that type throws <see cref="JsonException"/>.
    /// </summary>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader body, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        while (true)
        {
            var result = await body.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var line = NextLine(ref buffer);
            if (line is { } found)
            {
                T? value = null;
                try
                {
                    if (found.Length > 0)
                    {
                        var reader = new Utf8JsonReader(found);
                        value = JsonSerializer.Deserialize(ref reader, type);
                    }
                }
                finally
                {
                    body.AdvanceTo(buffer.Start);
                }

                if (value is not null)
                {
                    return value;
                }

                continue; // an empty line, or a JSON null: nothing to act on
            }

            if (result.IsCompleted || buffer.Length > MaxLineBytes)
            {
                body.AdvanceTo(buffer.End);
                return null;
            }

            body.AdvanceTo(buffer.Start, buffer.End); // no whole line yet: wait for more bytes
        }
    }

    private static ReadOnlySequence<byte>? NextLine(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.PositionOf((byte)'\n') is not { } newline)
        {
            return null;
        }

        var line = buffer.Slice(0, newline);
        buffer = buffer.Slice(buffer.GetPosition(1, newline));
        return line;
    }
}

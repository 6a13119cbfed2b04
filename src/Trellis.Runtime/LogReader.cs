using System.Runtime.CompilerServices;
using System.Text;

namespace Trellis.Runtime;

/// <summary>Reads an instance log file line by line, optionally following it like <c>tail -f</c>.</summary>
public static class LogReader
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Yields the lines of <paramref name="path"/>. Without <paramref name="follow"/> it stops at the
    /// end of the file (a last line without newline included). With it, it waits for the file to
    /// appear, yields lines as they are completed, starts over when the file is truncated, and ends
    /// only when <paramref name="ct"/> is cancelled (without throwing).
    /// </summary>
    public static IAsyncEnumerable<string> ReadAsync(string path, bool follow, CancellationToken ct = default) =>
        ReadAsync(path, follow, TimeProvider.System, PollInterval, ct);

    internal static async IAsyncEnumerable<string> ReadAsync(
        string path, bool follow, TimeProvider time, TimeSpan pollInterval, [EnumeratorCancellation] CancellationToken ct)
    {
        if (!follow && !File.Exists(path))
        {
            throw new FileNotFoundException($"log file '{path}' does not exist", path);
        }

        while (follow && !File.Exists(path))
        {
            if (!await WaitAsync(pollInterval, time, ct))
            {
                yield break;
            }
        }

        // ReadWrite|Delete sharing: the process keeps appending, and a removed instance's log may be
        // deleted, while we read.
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, useAsync: true);
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[8192];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        var line = new StringBuilder();
        while (!ct.IsCancellationRequested)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(bytes, ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }

            if (read == 0)
            {
                if (!follow)
                {
                    break;
                }

                if (stream.Length < stream.Position)
                {
                    stream.Position = 0;
                    decoder.Reset();
                    line.Clear();
                }

                if (!await WaitAsync(pollInterval, time, ct))
                {
                    yield break;
                }

                continue;
            }

            var count = decoder.GetChars(bytes, 0, read, chars, 0);
            var start = 0;
            for (var i = 0; i < count; i++)
            {
                if (chars[i] == '\n')
                {
                    line.Append(chars, start, i - start);
                    if (line.Length > 0 && line[^1] == '\r')
                    {
                        line.Length--;
                    }

                    yield return line.ToString();
                    line.Clear();
                    start = i + 1;
                }
            }

            line.Append(chars, start, count - start);
        }

        if (!follow && line.Length > 0)
        {
            yield return line.ToString();
        }
    }

    private static async Task<bool> WaitAsync(TimeSpan delay, TimeProvider time, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, time, ct);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

using System.Text;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>
/// <see cref="ChunkedScanner"/> and <see cref="ChunkedDecoder"/> share <see cref="ChunkedGrammar"/>:
/// fed the same bytes, split anywhere, they must agree on where a body ends and where it goes wrong.
/// </summary>
public sealed class ChunkedGrammarTests
{
    private const string Next = "HTTP/1.1 200 OK\r\n";

    /// <summary>Input; the body's length when it ends, or one past the byte at fault; whether it is invalid.</summary>
    public static TheoryData<string, int, bool> Bodies => new()
    {
        { "0\r\n\r\n" + Next, 5, false },
        { "1\r\na\r\n0\r\n\r\n" + Next, 11, false },
        { "4\r\n\r\n\r\n\r\n0\r\n\r\n" + Next, 14, false },
        { "3 \t;a=\"b c\"\r\nabc\r\n0;z\r\n\r\n" + Next, 25, false },
        { "0\r\nX: y\r\n\r\n" + Next, 11, false },
        { "A\r\n0123456789\r\n0\r\nA: 1\r\nB: 2\r\n\r\n" + Next, 32, false },
        { "5\r\nab", 5, false }, // not over yet: all of it is body
        { "0\r\nX: y\r\n", 9, false },
        { "1 2\r\n", 3, true },
        { "1\r\nab\r\n", 5, true },
        { "1\r\na\n0\r\n\r\n", 5, true },
        { "10000000001\r\n", 11, true },
        { "0\r\n\n", 4, true },
        { "0\r\nX: y\n\r\n", 8, true },
        { "0\r\nX: y\r\n\rX", 11, true },
        { "0\r\nX: y\r\nZ\n", 11, true },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void ScannerAndDecoder_SplitAtEveryPosition_AgreeOnTheEndAndTheError(string input, int expected, bool invalid)
    {
        var bytes = Encoding.ASCII.GetBytes(input);
        var decodedWhole = Decode(bytes, bytes.Length);
        for (var split = 0; split <= bytes.Length; split++)
        {
            var scanned = Scan(bytes, split);
            var decoded = Decode(bytes, split);

            Assert.True(scanned == (expected, invalid), $"scanner, split at {split}: {scanned}");
            Assert.True(decoded.Outcome == (expected, invalid), $"decoder, split at {split}: {decoded.Outcome}");
            Assert.True(invalid || (decoded.Data == decodedWhole.Data && decoded.Trailers == decodedWhole.Trailers), $"decoder, split at {split}");
        }
    }

    /// <summary>Scans in two pieces; where an error is, the scanner tells only by being fed one byte at a time.</summary>
    private static (int End, bool Invalid) Scan(byte[] bytes, int split)
    {
        var scanner = default(ChunkedScanner);
        var first = scanner.Scan(bytes.AsSpan(0, split));
        var second = first < 0 || scanner.IsDone ? 0 : scanner.Scan(bytes.AsSpan(split));
        if (first >= 0 && second >= 0)
        {
            return (first + second, false);
        }

        var byByte = default(ChunkedScanner);
        var i = 0;
        while (byByte.Scan(bytes.AsSpan(i, 1)) == 1)
        {
            i++;
        }

        return (i + 1, true);
    }

    private static ((int End, bool Invalid) Outcome, string Data, string Trailers) Decode(byte[] input, int split)
    {
        var bytes = (byte[])input.Clone();
        var decoder = default(ChunkedDecoder);
        var first = decoder.Decode(bytes.AsSpan(0, split), out var consumed);
        var data = first < 0 ? string.Empty : Encoding.ASCII.GetString(bytes, 0, first);
        if (first >= 0 && !decoder.IsDone)
        {
            var second = decoder.Decode(bytes.AsSpan(split), out var consumedSecond);
            data += second < 0 ? string.Empty : Encoding.ASCII.GetString(bytes, split, second);
            consumed = split + consumedSecond;
        }

        return ((consumed, decoder.IsInvalid), data, decoder.IsDone ? Encoding.ASCII.GetString(decoder.Trailers) : string.Empty);
    }
}

namespace Trellis.Eventing.Storage;

/// <summary>One file of a log: the records from <see cref="First"/> on, with each record's offset (kept in memory for reads that go back).</summary>
internal sealed class LogSegment(long first, string path)
{
    public long First { get; } = first;

    public string Path { get; } = path;

    public List<long> Offsets { get; } = [];

    public long Length { get; set; }

    /// <summary>One past the last sequence in this segment.</summary>
    public long End => First + Offsets.Count;

    public static string FileName(long first) => $"{first:D20}.log";

    /// <summary>
    /// Scans the file, keeping records while they are whole, checksummed and in sequence; returns the
    /// length of that valid prefix (the rest is a torn write to cut off).
    /// </summary>
    public static LogSegment Recover(string path, long first)
    {
        var segment = new LogSegment(first, path);
        var data = File.ReadAllBytes(path);
        long offset = 0;
        var expected = first;
        while (LogRecord.TryRead(data.AsSpan((int)offset), out var sequence, out var length) && sequence == expected)
        {
            segment.Offsets.Add(offset);
            offset += LogRecord.HeaderSize + length;
            expected++;
        }

        segment.Length = offset;
        return segment;
    }
}

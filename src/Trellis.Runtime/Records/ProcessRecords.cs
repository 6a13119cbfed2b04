using System.Globalization;
using System.Text.Json;

namespace Trellis.Runtime.Records;

/// <summary>
/// A file per started process group under <c>DataDirectory/processes/</c>, written before the
/// supervisor relies on the process and removed when it has exited: what a supervisor that died
/// without stopping its workloads (SIGKILL, a crash, a power cut of its own process) left running.
/// The next supervisor on the same data directory stops them (<see cref="ReapAsync"/>) before it
/// starts anything, so a restart never leaves an orphan and never runs a second copy.
/// <para>
/// A pid alone could name a different process by then; each record also holds the process's start
/// time (field 22 of <c>/proc/PID/stat</c>), and a living process whose start time differs is left
/// alone. A leader that has exited while members of its group live on is still reaped through the
/// group: Linux does not reuse a process-group id while the group has members.
/// </para>
/// </summary>
public sealed class ProcessRecords
{
    private readonly string _directory;

    public ProcessRecords(string dataDirectory)
    {
        _directory = Path.Combine(dataDirectory, "processes");
        Directory.CreateDirectory(_directory);
    }

    public sealed record Entry(int Pid, long StartTime, string What, double GraceSeconds);

    /// <summary>Records a started group leader. Written and flushed before the caller goes on.</summary>
    public void Add(int pid, string what, TimeSpan grace)
    {
        var entry = new Entry(pid, StartTimeOf(pid) ?? 0, what, grace.TotalSeconds);
        var path = PathOf(pid);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(entry));
        File.Move(tmp, path, overwrite: true);
    }

    public void Remove(int pid) => File.Delete(PathOf(pid));

    public IReadOnlyList<Entry> ReadAll()
    {
        var entries = new List<Entry>();
        foreach (var file in Directory.EnumerateFiles(_directory, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<Entry>(File.ReadAllBytes(file)) is { Pid: > 1 } entry)
                {
                    entries.Add(entry);
                }
            }
            catch (JsonException)
            {
                File.Delete(file); // torn by the crash that left it: nothing can be said about it
            }
        }

        return entries;
    }

    /// <summary>
    /// Stops every recorded group of a previous life: SIGTERM, then SIGKILL once the recorded grace
    /// period (at most <paramref name="maxGrace"/>) has passed. Returns what was stopped.
    /// </summary>
    public async Task<IReadOnlyList<Entry>> ReapAsync(TimeSpan maxGrace, TimeProvider time, CancellationToken cancellationToken = default)
    {
        var reaped = new List<Entry>();
        var stopping = new List<(Entry Entry, DateTimeOffset Deadline)>();
        foreach (var entry in ReadAll())
        {
            if (Ours(entry) && Signals.Send(-entry.Pid, Signals.SigTerm))
            {
                stopping.Add((entry, time.GetUtcNow() + TimeSpan.FromSeconds(Math.Min(entry.GraceSeconds, maxGrace.TotalSeconds))));
                reaped.Add(entry);
            }
            else
            {
                Remove(entry.Pid);
            }
        }

        while (stopping.Count > 0)
        {
            foreach (var (entry, deadline) in stopping.ToArray())
            {
                var gone = !GroupAlive(entry.Pid);
                if (!gone && time.GetUtcNow() >= deadline)
                {
                    Signals.Send(-entry.Pid, Signals.SigKill);
                    gone = true; // SIGKILL cannot be caught: what is left are zombies until their new parent reaps them
                }

                if (gone)
                {
                    Remove(entry.Pid);
                    stopping.Remove((entry, deadline));
                }
            }

            if (stopping.Count > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken);
            }
        }

        return reaped;
    }

    /// <summary>Whether the recorded group is still the one we started (see the class comment).</summary>
    private static bool Ours(Entry entry) => StartTimeOf(entry.Pid) is not { } now || now == entry.StartTime;

    /// <summary>
    /// Whether any member of the group still runs. kill(-pgid, 0) would also count zombies, which an
    /// orphan's new parent may never reap (a container's PID 1 often does not), so /proc decides.
    /// </summary>
    private static bool GroupAlive(int group)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[2] == group.ToString(CultureInfo.InvariantCulture) && fields[0] is not ("Z" or "X"))
                {
                    return true;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
            {
                // Exited while we looked.
            }
        }

        return false;
    }

    private string PathOf(int pid) => Path.Combine(_directory, pid.ToString(CultureInfo.InvariantCulture) + ".json");

    /// <summary>Field 22 of /proc/PID/stat (clock ticks after boot), read after the command name, which may hold spaces and parentheses.</summary>
    internal static long? StartTimeOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture); // fields from the 3rd on; starttime is the 22nd
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}

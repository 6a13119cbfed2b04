using System.Globalization;

namespace Trellis.Agent.Metering;

/// <summary>What /proc says about one process.</summary>
internal readonly record struct ProcessTimes(int Pid, int ProcessGroup, long CpuTicks);

/// <summary>
/// Reads <c>/proc/[pid]/stat</c> and <c>/proc/[pid]/status</c> (proc(5)). A process's CPU is
/// utime + stime + cutime + cstime: its own time and that of the children it has waited for, so a
/// group's exited members that its live members reaped still count.
/// </summary>
internal static class ProcStat
{
    /// <summary>USER_HZ, the unit of the times in /proc/[pid]/stat: 100 on every Linux architecture .NET runs on.</summary>
    public const double TicksPerSecond = 100;

    /// <summary>Every process now visible in /proc; processes that exit while we read are skipped.</summary>
    public static List<ProcessTimes> All(string procRoot = "/proc")
    {
        var result = new List<ProcessTimes>();
        foreach (var dir in Directory.EnumerateDirectories(procRoot))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || !int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            if (TryRead(procRoot, pid) is { } times)
            {
                result.Add(times);
            }
        }

        return result;
    }

    public static ProcessTimes? TryRead(string procRoot, int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"{procRoot}/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return Parse(pid, text);
    }

    /// <summary>The command name (field 2) is in parentheses and may hold spaces and parentheses; fields count from the last ')'.</summary>
    public static ProcessTimes? Parse(int pid, string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // After ") ": state(3) ppid(4) pgrp(5) ... utime(14) stime(15) cutime(16) cstime(17).
        var fields = stat[(close + 2)..].Split(' ');
        if (fields.Length < 15
            || !int.TryParse(fields[2], CultureInfo.InvariantCulture, out var pgrp)
            || !long.TryParse(fields[11], CultureInfo.InvariantCulture, out var utime)
            || !long.TryParse(fields[12], CultureInfo.InvariantCulture, out var stime)
            || !long.TryParse(fields[13], CultureInfo.InvariantCulture, out var cutime)
            || !long.TryParse(fields[14], CultureInfo.InvariantCulture, out var cstime))
        {
            return null;
        }

        return new ProcessTimes(pid, pgrp, utime + stime + cutime + cstime);
    }

    /// <summary>VmHWM (peak resident set) in bytes, or 0 when the process is gone or has none (a zombie).</summary>
    public static long PeakResidentBytes(string procRoot, int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"{procRoot}/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kb = line.AsSpan(6).Trim();
                    kb = kb.EndsWith("kB", StringComparison.Ordinal) ? kb[..^2].Trim() : kb;
                    return long.TryParse(kb, CultureInfo.InvariantCulture, out var value) ? value * 1024 : 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return 0;
    }

    /// <summary>
    /// The members of the group led by <paramref name="group"/>. Instances run in their own process
    /// group (setsid); where they could not, the leader's pid names no group and only it matches.
    /// </summary>
    public static bool InGroup(ProcessTimes process, int group) => process.ProcessGroup == group || process.Pid == group;
}

namespace Trellis.Runtime.Tests;

/// <summary>Reads /proc, so tests can check what is really running.</summary>
internal static class ProcessInfo
{
    /// <summary>True when <paramref name="pid"/> exists and is not a zombie (in containers, nothing may reap orphans).</summary>
    public static bool IsAlive(int pid) => Stat(pid) is { } fields && fields[0] is not "Z" and not "X";

    /// <summary>The process group id of <paramref name="pid"/>, or null when it is gone.</summary>
    public static int? ProcessGroup(int pid) =>
        Stat(pid) is { } fields ? int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture) : null;

    // Fields after "(comm)": state, ppid, pgrp, ...; comm may contain spaces, hence the last ')'.
    private static string[]? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }
}

namespace Trellis.Runtime.Tests;

internal static class ProcessInfo
{
    /// <summary>True when <paramref name="pid"/> exists and is not a zombie (in containers, nothing may reap orphans).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state != 'Z' && state != 'X';
        }
        catch (IOException)
        {
            return false;
        }
    }
}

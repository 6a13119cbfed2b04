using System.Runtime.InteropServices;

namespace Trellis.Runtime;

/// <summary>
/// kill(2), because .NET only offers SIGKILL (<see cref="System.Diagnostics.Process.Kill()"/>) and a
/// graceful stop needs SIGTERM. A negative pid signals a whole process group.
/// </summary>
internal static partial class Signals
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/>; false when no such process or group exists.</summary>
    public static bool Send(int pid, int signal) => kill(pid, signal) == 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}

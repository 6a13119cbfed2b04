using System.Runtime.InteropServices;

namespace Trellis.PoolHost;

/// <summary>The few libc calls that make a started process look like one started for the function.</summary>
internal static partial class Native
{
    private const int StdOut = 1;
    private const int StdErr = 2;

    /// <summary>
    /// Points stdout and stderr at <paramref name="path"/>, opened for appending as the plain start's
    /// <c>&gt;&gt;log 2&gt;&amp;1</c> does: whatever writes to fd 1 or 2 (Console, the runtime's own
    /// crash report, a child process) lands in the instance log.
    /// </summary>
    public static void RedirectOutput(string path)
    {
        // O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC; the values differ between Linux and macOS.
        var flags = OperatingSystem.IsMacOS() ? 0x1 | 0x200 | 0x8 | 0x1000000 : 0x1 | 0x40 | 0x400 | 0x80000;
        var fd = open(path, flags, Convert.ToInt32("644", 8));
        if (fd < 0)
        {
            throw new IOException($"cannot open log '{path}' (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (dup2(fd, StdOut) < 0 || dup2(fd, StdErr) < 0)
            {
                throw new IOException($"dup2 onto stdout/stderr failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>
    /// Sets a variable in the native environment too: .NET keeps its own copy on Unix, which
    /// <see cref="Environment.GetEnvironmentVariable(string)"/> and child processes see, but native
    /// libraries (OpenSSL, ICU) call getenv(3). Done before the function's code runs, while nothing
    /// else reads the environment.
    /// </summary>
    public static void SetNativeEnvironment(string name, string value) => _ = setenv(name, value, 1);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}

using System.Globalization;
using System.Runtime.InteropServices;

namespace Trellis.Cli.Roles;

/// <summary>
/// Gives back what a proxy touched only to start: call once, when it serves its first snapshot.
/// <para>
/// (1) The heap: start-up (the command line, the snapshot's JSON, compiling routes, Kestrel and DI)
/// allocates a few MB that die at once, below the gen0 budget, so no GC has run and every page
/// stays resident: 3.4 of trellis-proxy's 23.6 MB idle. An aggressive, compacting collection keeps
/// the survivors and decommits the rest.
/// </para>
/// <para>
/// (2) Read-only file pages: Native AOT reads its whole dehydrated type data (rodata) once at start
/// to rebuild the type structures in private memory, and start-up runs code (option parsing, JSON,
/// set-up) that serving never runs again; with the kernel's fault-around (64 KiB per fault) that is
/// 6.4 MB of rodata and 7.2 MB of text resident, against about 14 MB resident in all after trimming
/// and then serving HTTP/1.1 and HTTP/2 requests. The same holds for the shared libraries (libc,
/// libm, the loader: about 2 MB resident after start) and, on the JIT runtime, the framework's
/// images. madvise(MADV_DONTNEED) on those mappings drops the page-table entries; the pages stay in
/// the page cache, and one the process uses again comes back on a minor fault. Only private,
/// read-only mappings of a file that hold no private (written) page are touched
/// (<c>Anonymous: 0 kB</c> in smaps): a RELRO section the loader relocated keeps its copy, and a
/// read-only mapping cannot gain a written page between reading smaps and the madvise.
/// docs/benchmarks.md, history 32 and 34.
/// </para>
/// </summary>
internal static partial class StartupMemory
{
    private const int MadvDontNeed = 4;

    public static void Release()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (OperatingSystem.IsLinux())
        {
            try
            {
                foreach (var (start, length) in CleanMappings(File.ReadLines("/proc/self/smaps")))
                {
                    _ = madvise(start, length, MadvDontNeed);
                }
            }
            catch (IOException)
            {
                // No /proc (a container without it): nothing to trim.
            }
        }
    }

    /// <summary>The read-only, file-backed, private mappings that hold no written page.</summary>
    internal static IEnumerable<(nint Start, nuint Length)> CleanMappings(IEnumerable<string> smaps)
    {
        (nint Start, nuint Length)? current = null;
        foreach (var line in smaps)
        {
            // A mapping's header: "start-end perms offset dev inode path"; its fields follow, one per line.
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                current = null;
                var range = fields[0].Split('-');
                if (fields.Length == 6 && fields[5].Trim().StartsWith('/') && fields[1] is "r--p" or "r-xp"
                    && long.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
                    && long.TryParse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end))
                {
                    current = ((nint)start, (nuint)(end - start));
                }
            }
            else if (current is { } mapping && line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                current = null;
                if (line.AsSpan("Anonymous:".Length).Trim().SequenceEqual("0 kB"))
                {
                    yield return mapping;
                }
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint addr, nuint length, int advice);
}

namespace Trellis.Runtime;

/// <summary>
/// Finds the executable of a command the way a shell would, but before starting anything, so that a
/// typo shows up as a clear instance message instead of an exit code 127 in the log.
/// </summary>
internal static class CommandResolver
{
    /// <summary>The full path of <paramref name="command"/>, or null when no executable file matches.</summary>
    /// <param name="command">Rooted, relative (contains '/'), or a bare name looked up on PATH.</param>
    /// <param name="workingDirectory">Base for relative commands.</param>
    /// <param name="path">The PATH the process will see.</param>
    public static string? Resolve(string command, string workingDirectory, string? path)
    {
        if (command.Contains('/', StringComparison.Ordinal))
        {
            var full = Path.GetFullPath(command, workingDirectory);
            return IsExecutable(full) ? full : null;
        }

        foreach (var directory in (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(Path.GetFullPath(directory, workingDirectory), command);
            if (IsExecutable(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static bool IsExecutable(string file)
    {
        if (!File.Exists(file))
        {
            return false;
        }

        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & anyExecute) != 0;
    }
}

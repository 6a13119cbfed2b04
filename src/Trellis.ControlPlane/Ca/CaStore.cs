namespace Trellis.ControlPlane.Ca;

/// <summary>
/// Where the CA's files live: a directory in Istio's plug-in layout (<see cref="CaMaterial"/>). The operator's own CA
/// is read from the directory it names (istiod's <c>/etc/cacerts</c>); without one, a self-signed root is made on
/// first start and kept in the control plane's data directory. Keys are written owner-only (0600 in a 0700 directory),
/// and an existing key that others can read is refused rather than used.
/// </summary>
public static class CaStore
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly string[] LayoutFiles = [CaMaterial.CaCertFile, CaMaterial.CaKeyFile, CaMaterial.RootCertFile, CaMaterial.CertChainFile, CaMaterial.PreviousRootFile];
    private const UnixFileMode OwnerDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// The CA of <paramref name="pluggedIn"/> when given (it must be complete and valid), otherwise the one in
    /// <paramref name="ownDirectory"/>, made there when it does not exist yet.
    /// </summary>
    public static (CaMaterial? Material, IReadOnlyList<string> Errors) Open(string? pluggedIn, string ownDirectory, string trustDomain, TimeProvider time)
    {
        var now = time.GetUtcNow();
        if (pluggedIn is not null)
        {
            return Read(pluggedIn, now);
        }

        FinishReplace(ownDirectory);
        if (File.Exists(Path.Combine(ownDirectory, CaMaterial.CaKeyFile)))
        {
            return Read(ownDirectory, now);
        }

        var created = CertificateAuthority.CreateSelfSigned(trustDomain, now);
        Write(ownDirectory, created.ToFiles());
        return (created, []);
    }

    /// <summary>Reads the layout from <paramref name="directory"/>; every problem reported, nothing half-loaded.</summary>
    public static (CaMaterial? Material, IReadOnlyList<string> Errors) Read(string directory, DateTimeOffset now)
    {
        if (!Directory.Exists(directory))
        {
            return (null, [$"{directory}: no such directory"]);
        }

        var key = Path.Combine(directory, CaMaterial.CaKeyFile);
        if (File.Exists(key) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(key) & ~OwnerFile & ~UnixFileMode.UserExecute) != 0)
        {
            return (null, [$"{key} can be read by others than its owner (mode {Convert.ToString((int)File.GetUnixFileMode(key), 8)}): chmod 600 it"]);
        }

        var files = new Dictionary<string, string>();
        foreach (var name in LayoutFiles)
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                files[name] = File.ReadAllText(path);
            }
        }

        var material = CaMaterial.Load(files, now, out var errors);
        return (material, errors.Select(e => $"{directory}: {e}").ToList());
    }

    /// <summary>
    /// Replaces the whole CA in <paramref name="directory"/> by <paramref name="files"/> as one step (a root rotation
    /// changes the key, the certificates and the previous root together): they are written to a sibling directory, which
    /// then takes the old one's place. A crash in between leaves either the old set or the new one, never a mix: the next
    /// <see cref="Open"/> completes an interrupted swap. Files that are not the CA's (the join token) move with it.
    /// </summary>
    public static void Replace(string directory, IReadOnlyDictionary<string, string> files)
    {
        var (next, old) = (directory + ".next", directory + ".old");
        if (Directory.Exists(next))
        {
            Directory.Delete(next, recursive: true);
        }

        var kept = Directory.EnumerateFiles(directory)
            .Where(f => !LayoutFiles.Contains(Path.GetFileName(f)) && !f.EndsWith(".tmp", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllText);
        Write(next, kept.Concat(files).ToDictionary(f => f.Key, f => f.Value));
        Directory.Move(directory, old);
        Directory.Move(next, directory);
        Directory.Delete(old, recursive: true);
    }

    /// <summary>Completes a <see cref="Replace"/> a crash interrupted: a complete new set wins, a partial one is discarded.</summary>
    private static void FinishReplace(string directory)
    {
        var (next, old) = (directory + ".next", directory + ".old");
        if (!Directory.Exists(directory) && Directory.Exists(next))
        {
            Directory.Move(next, directory); // the old set was moved away, so the new one was complete
        }
        else if (Directory.Exists(next))
        {
            Directory.Delete(next, recursive: true); // written in part: the old set is still in place
        }

        if (Directory.Exists(old) && Directory.Exists(directory))
        {
            Directory.Delete(old, recursive: true);
        }
    }

    /// <summary>Writes the files owner-only; the key never exists on disk with wider permissions, not even briefly.</summary>
    public static void Write(string directory, IReadOnlyDictionary<string, string> files)
    {
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, OwnerDirectory);
        }

        foreach (var (name, text) in files)
        {
            var path = Path.Combine(directory, name);
            var temp = path + ".tmp";
            File.Delete(temp); // the create mode applies only to a file that does not exist yet
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerFile;
            }

            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(text);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
    }
}

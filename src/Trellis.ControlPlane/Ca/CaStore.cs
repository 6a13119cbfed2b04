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
        foreach (var name in new[] { CaMaterial.CaCertFile, CaMaterial.CaKeyFile, CaMaterial.RootCertFile, CaMaterial.CertChainFile })
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

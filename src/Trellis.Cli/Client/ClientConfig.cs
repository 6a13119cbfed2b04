using YamlDotNet.RepresentationModel;

namespace Trellis.Cli.Client;

/// <summary>
/// One context of the CLI's config: a control plane, the token to call it with, and for an https API the PEM file of
/// the CA its certificate chains to (kubeconfig's cluster, user and context in one).
/// </summary>
public sealed record ClientContext(string Name, string Server, string? Token, string? CertificateAuthority = null);

/// <summary>
/// The CLI's config file, kubeconfig's idea in a flatter shape: <c>~/.trellis/config</c>, or the file
/// <c>TRELLIS_CONFIG</c> names (tests point it at a temp file and never touch the real home).
/// <code>
/// current-context: trellis@127.0.0.1:15000
/// contexts:
/// - name: trellis@127.0.0.1:15000
///   server: http://127.0.0.1:15000
///   token: 0123abcd.…
///   certificate-authority: /home/me/.trellis/controlplane/ca/root-cert.pem   # https APIs only
/// </code>
/// Written owner-only (0600 in a 0700 directory), whole, through a rename; a lock file serializes writers (several
/// <c>trellis up</c> in parallel tests each add their context).
/// </summary>
public sealed class ClientConfig
{
    public const string EnvironmentVariable = "TRELLIS_CONFIG";
    public const string TokenVariable = "TRELLIS_TOKEN";

    private ClientConfig(string path, string? current, IReadOnlyList<ClientContext> contexts)
    {
        Path = path;
        CurrentContext = current;
        Contexts = contexts;
    }

    public string Path { get; }

    public string? CurrentContext { get; }

    public IReadOnlyList<ClientContext> Contexts { get; }

    public ClientContext? Current => Contexts.FirstOrDefault(c => c.Name == CurrentContext);

    /// <summary>Where the config lives: <c>TRELLIS_CONFIG</c>, else <c>~/.trellis/config</c>.</summary>
    public static string DefaultPath() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } given
            ? given
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".trellis", "config");

    /// <summary>The config at <paramref name="path"/>; an empty one when the file does not exist. A malformed file is an <see cref="InvalidDataException"/>.</summary>
    public static ClientConfig Load(string? path = null)
    {
        path ??= DefaultPath();
        if (!File.Exists(path))
        {
            return new ClientConfig(path, null, []);
        }

        try
        {
            var yaml = new YamlStream();
            using (var reader = new StringReader(File.ReadAllText(path)))
            {
                yaml.Load(reader);
            }

            if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            {
                return new ClientConfig(path, null, []);
            }

            var contexts = new List<ClientContext>();
            if (Child(root, "contexts") is YamlSequenceNode list)
            {
                foreach (var item in list.Children.OfType<YamlMappingNode>())
                {
                    if (Scalar(item, "name") is { } name && Scalar(item, "server") is { } server)
                    {
                        contexts.Add(new ClientContext(name, server, Scalar(item, "token"), Scalar(item, "certificate-authority")));
                    }
                }
            }

            return new ClientConfig(path, Scalar(root, "current-context"), contexts);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>The context for <paramref name="server"/> (the same URL, ignoring a trailing slash), or null.</summary>
    public ClientContext? ForServer(string server) =>
        Contexts.FirstOrDefault(c => string.Equals(c.Server.TrimEnd('/'), server.TrimEnd('/'), StringComparison.OrdinalIgnoreCase));

    /// <summary>Adds or replaces <paramref name="context"/> (by name) and makes it current; the file stays owner-only.</summary>
    public static string Save(ClientContext context, string? path = null)
    {
        path ??= DefaultPath();
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        using var lockFile = AcquireLock(path + ".lock");
        var current = Load(path);
        var contexts = current.Contexts.Where(c => c.Name != context.Name).Append(context).ToList();
        var text = new System.Text.StringBuilder("# trellis CLI config (contexts: server and token); trellis up and trellis controlplane add theirs\n")
            .Append("current-context: ").Append(Quote(context.Name)).Append('\n')
            .Append("contexts:\n");
        foreach (var c in contexts)
        {
            text.Append("- name: ").Append(Quote(c.Name)).Append('\n').Append("  server: ").Append(Quote(c.Server)).Append('\n');
            if (c.Token is not null)
            {
                text.Append("  token: ").Append(Quote(c.Token)).Append('\n');
            }

            if (c.CertificateAuthority is not null)
            {
                text.Append("  certificate-authority: ").Append(Quote(c.CertificateAuthority)).Append('\n');
            }
        }

        var temp = path + ".tmp";
        File.Delete(temp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(new FileStream(temp, options)))
        {
            writer.Write(text.ToString());
        }

        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>An exclusive lock (flock) on a file beside the config; kept, not deleted, so every writer locks the same inode.</summary>
    private static FileStream AcquireLock(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 500)
            {
                Thread.Sleep(20); // another trellis is writing the config: a few milliseconds
            }
        }
    }

    /// <summary>A YAML single-quoted scalar (the only escape is a doubled quote).</summary>
    private static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlMappingNode map, string key) => Child(map, key) is YamlScalarNode { Value: { Length: > 0 } v } ? v : null;
}

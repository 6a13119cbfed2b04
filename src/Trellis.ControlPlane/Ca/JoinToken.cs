using System.Security.Cryptography;
using System.Text;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// The secret an operator gives an agent so it may join (k3s's node token): given on the command line, or made on first
/// start and kept owner-only in the data directory (<c>join-token</c>) where the operator reads it. Only its SHA-256 is
/// kept in memory, and a presented token is compared in constant time.
/// </summary>
public sealed class JoinToken
{
    public const string FileName = "join-token";

    private readonly byte[] _hash;

    private JoinToken(string token, string? path)
    {
        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        Path = path;
    }

    /// <summary>Where the token is kept; null when the operator gave it.</summary>
    public string? Path { get; }

    /// <summary>The token <paramref name="given"/>, or the one in <paramref name="dataDirectory"/>, made there when missing.</summary>
    public static JoinToken Open(string? given, string dataDirectory)
    {
        if (given is not null)
        {
            return given.Length >= 16 ? new JoinToken(given, null) : throw new ArgumentException("a join token must be at least 16 characters");
        }

        var path = System.IO.Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            CaStore.Write(dataDirectory, new Dictionary<string, string> { [FileName] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n" });
        }

        return new JoinToken(File.ReadAllText(path).Trim(), path);
    }

    /// <summary>The token itself (for <c>trellis up</c>, which wires its own agent); read from its file.</summary>
    public static string Read(string path) => File.ReadAllText(path).Trim();

    public bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(_hash, SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}

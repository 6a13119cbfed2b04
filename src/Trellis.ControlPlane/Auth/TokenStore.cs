using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Trellis.Api.Access;
using Trellis.ControlPlane.Ca;

namespace Trellis.ControlPlane.Auth;

/// <summary>One API token as the control plane keeps it: never the token itself, only its SHA-256.</summary>
/// <param name="Id">The token's public half (<c>&lt;id&gt;.&lt;secret&gt;</c>), for lookup and for <c>trellis token revoke</c>.</param>
/// <param name="Name">Who or what holds it; for a <see cref="ApiRole.Proxy"/> token, the proxy name it may connect as.</param>
/// <param name="Source"><c>store</c> (made through the API, revocable), <c>static</c> (<c>--token-auth-file</c>), <c>process</c> (in memory, for <c>trellis up</c>'s own gateway).</param>
public sealed record ApiToken(string Id, string Name, ApiRole Role, string Sha256, DateTimeOffset Created, string Source = "store");

/// <summary>
/// The API's bearer tokens (Kubernetes' service-account and static tokens in one): a token is <c>&lt;id&gt;.&lt;secret&gt;</c>
/// with 32 random bytes of secret, handed out once and kept as its SHA-256 in <c>&lt;data dir&gt;/auth/tokens.json</c>
/// (owner-only, written whole and renamed into place). A presented token is looked up by its id and its hash compared in
/// constant time. On first start (no token file yet) an admin token is made and written, owner-only, to
/// <c>&lt;data dir&gt;/auth/admin-token</c>, where the operator (and <c>trellis up</c>) reads it.
/// </summary>
public sealed class TokenStore
{
    public const string TokensFile = "tokens.json";
    public const string AdminTokenFile = "admin-token";

    private readonly Lock _gate = new();
    private readonly string _directory;
    private readonly TimeProvider _time;
    private readonly IReadOnlyList<ApiToken> _static;
    private readonly List<ApiToken> _process = [];
    private List<ApiToken> _stored;

    private TokenStore(string directory, List<ApiToken> stored, IReadOnlyList<ApiToken> staticTokens, TimeProvider time)
    {
        _directory = directory;
        _stored = stored;
        _static = staticTokens;
        _time = time;
    }

    /// <summary>Where a control plane with data directory <paramref name="dataDirectory"/> keeps its tokens.</summary>
    public static string DirectoryIn(string dataDirectory) => Path.Combine(dataDirectory, "auth");

    /// <summary>Where the first admin token was written; null when the operator gave tokens with <c>--token-auth-file</c> only.</summary>
    public string? AdminTokenPath { get; private init; }

    /// <summary>
    /// Opens the token file in <paramref name="directory"/>, making it (with a first admin token) when missing.
    /// <paramref name="staticFile"/> (kube-apiserver's <c>--token-auth-file</c>): lines <c>token,name,role</c>, the token
    /// also as <c>sha256:&lt;hex&gt;</c>; replicas sharing etcd are given the same file. With a static admin token no
    /// admin token is made.
    /// </summary>
    public static TokenStore Open(string directory, string? staticFile, TimeProvider time)
    {
        var staticTokens = staticFile is null ? [] : ReadStatic(staticFile);
        var path = Path.Combine(directory, TokensFile);
        string? adminPath = null;
        List<ApiToken> stored;
        if (File.Exists(path))
        {
            stored = JsonSerializer.Deserialize(File.ReadAllText(path), TokenJson.Default.ListApiToken)
                ?? throw new InvalidOperationException($"{path}: not a token list");
            adminPath = File.Exists(Path.Combine(directory, AdminTokenFile)) ? Path.Combine(directory, AdminTokenFile) : null;
        }
        else
        {
            stored = [];
            if (!staticTokens.Any(t => t.Role == ApiRole.Admin))
            {
                var (token, record) = NewToken("admin", ApiRole.Admin, time.GetUtcNow());
                stored.Add(record);
                CaStore.Write(directory, new Dictionary<string, string> { [AdminTokenFile] = token + "\n" });
                adminPath = Path.Combine(directory, AdminTokenFile);
            }

            Save(directory, stored);
        }

        return new TokenStore(directory, stored, staticTokens, time) { AdminTokenPath = adminPath };
    }

    /// <summary>The token a request presents, or null (unknown, malformed or revoked).</summary>
    public ApiToken? Authenticate(string presented)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var dot = presented.IndexOf('.', StringComparison.Ordinal);
        var id = dot > 0 ? presented[..dot] : null;
        List<ApiToken> candidates;
        lock (_gate)
        {
            candidates = [.. _stored.Where(t => t.Id == id), .. _process.Where(t => t.Id == id)];
        }

        // Static tokens are the operator's own strings, without an id: each is compared, in constant time.
        foreach (var token in candidates.Concat(_static))
        {
            if (CryptographicOperations.FixedTimeEquals(hash, Convert.FromHexString(token.Sha256)))
            {
                return token;
            }
        }

        return null;
    }

    /// <summary>Every token, without hashes' secrets (they are not secrets, but there is no reason to show them).</summary>
    public IReadOnlyList<ApiToken> List()
    {
        lock (_gate)
        {
            return [.. _stored, .. _static, .. _process];
        }
    }

    /// <summary>Makes a token; the token itself is returned once and never kept. Null and why when the name is taken or bad.</summary>
    public (string? Token, ApiToken? Record, string? Error) Create(string name, ApiRole role)
    {
        if (NameProblem(name) is { } problem)
        {
            return (null, null, problem);
        }

        lock (_gate)
        {
            if (_stored.Concat(_static).Concat(_process).Any(t => t.Name == name))
            {
                return (null, null, $"a token named \"{name}\" exists already (revoke it first)");
            }

            var (token, record) = NewToken(name, role, _time.GetUtcNow());
            var next = new List<ApiToken>(_stored) { record };
            Save(_directory, next);
            _stored = next;
            return (token, record, null);
        }
    }

    /// <summary>A token that lives only in this process (<c>trellis up</c> gives one to its own gateway).</summary>
    public string CreateProcessToken(string name, ApiRole role)
    {
        var (token, record) = NewToken(name, role, _time.GetUtcNow());
        lock (_gate)
        {
            _process.Add(record with { Source = "process" });
        }

        return token;
    }

    /// <summary>Revokes the stored token with this id or name; false when there is none (static tokens are the operator's file's).</summary>
    public bool Revoke(string idOrName)
    {
        lock (_gate)
        {
            var next = _stored.Where(t => t.Id != idOrName && t.Name != idOrName).ToList();
            if (next.Count == _stored.Count)
            {
                return false;
            }

            Save(_directory, next);
            _stored = next;
            return true;
        }
    }

    public static string? NameProblem(string name) =>
        name.Length is 0 or > 253 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '/' or ':' or '@'))
            ? $"invalid token name \"{name}\": 1-253 characters of letters, digits and - . _ / : @"
            : null;

    private static (string Token, ApiToken Record) NewToken(string name, ApiRole role, DateTimeOffset now)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var token = id + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        return (token, new ApiToken(id, name, role, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token))), now));
    }

    private static void Save(string directory, List<ApiToken> tokens) =>
        CaStore.Write(directory, new Dictionary<string, string> { [TokensFile] = JsonSerializer.Serialize(tokens, TokenJson.Default.ListApiToken) });

    /// <summary>kube-apiserver's static token file, one <c>token,name,role</c> a line; <c>#</c> starts a comment.</summary>
    private static List<ApiToken> ReadStatic(string file)
    {
        var tokens = new List<ApiToken>();
        var errors = new List<string>();
        var lineNumber = 0;
        foreach (var raw in File.ReadAllLines(file))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var parts = line.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length != 3 || parts[0].Length == 0 || NameProblem(parts[1]) is not null || !ApiRoles.TryParse(parts[2], out var role))
            {
                errors.Add($"{file}:{lineNumber}: expected token,name,role with a role of {string.Join(", ", ApiRoles.Names)}");
                continue;
            }

            var hash = parts[0].StartsWith("sha256:", StringComparison.Ordinal)
                ? parts[0]["sha256:".Length..].ToLowerInvariant()
                : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(parts[0])));
            if (hash.Length != 64 || !hash.All(char.IsAsciiHexDigit))
            {
                errors.Add($"{file}:{lineNumber}: a sha256: token must be 64 hex digits");
                continue;
            }

            if (!parts[0].StartsWith("sha256:", StringComparison.Ordinal) && parts[0].Length < 16)
            {
                errors.Add($"{file}:{lineNumber}: a token must be at least 16 characters");
                continue;
            }

            tokens.Add(new ApiToken("static-" + lineNumber, parts[1], role, hash, File.GetLastWriteTimeUtc(file), "static"));
        }

        return errors.Count == 0 ? tokens : throw new InvalidOperationException("--token-auth-file: " + string.Join("; ", errors));
    }
}

[JsonSerializable(typeof(List<ApiToken>))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true, WriteIndented = true)]
internal sealed partial class TokenJson : JsonSerializerContext;

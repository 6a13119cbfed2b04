using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;

namespace Trellis.Api.Access;

/// <summary>
/// How a client of the control plane (the CLI, an agent, a proxy, another replica) trusts the API's and the push
/// stream's TLS certificate: it must chain to one of the mesh CA's roots and name the host the client dialled. The
/// roots come from a PEM file (the CLI context's <c>certificate-authority</c>, <c>--ca-file</c>, read again when the
/// file changes, so a root rotation reaches it), from the bundle an agent holds (<see cref="Adopt"/>), or, for an agent's
/// first contact, from a pin: kubeadm's <c>--discovery-token-ca-cert-hash</c> idea, a SHA-256 of a root's public key
/// (<see cref="Hash"/>) that the bundle fetched at join must contain before anything else is sent
/// (<see cref="ResolveAsync"/>). Plain <c>http://</c> URLs are unaffected.
/// </summary>
public sealed class ControlPlaneTrust
{
    public const string HashPrefix = "sha256:";

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private readonly string? _file;
    private readonly string? _pin;
    private volatile X509Certificate2Collection? _roots;
    private DateTime _fileStamp;

    private ControlPlaneTrust(string? file, string? pin, X509Certificate2Collection? roots)
    {
        _file = file;
        _pin = pin;
        _roots = roots;
    }

    /// <summary>Roots from a PEM file (one or more certificates); an unreadable or empty file is an error now, not at the first call.</summary>
    public static ControlPlaneTrust FromFile(string path)
    {
        var trust = new ControlPlaneTrust(Path.GetFullPath(path), null, null);
        trust.Roots();
        return trust;
    }

    /// <summary>The given roots (an in-process client of the CA, a test).</summary>
    public static ControlPlaneTrust FromRoots(X509Certificate2Collection roots) => new(null, null, roots);

    /// <summary>A pin <c>sha256:&lt;64 hex&gt;</c>; the roots come later, from <see cref="ResolveAsync"/>.</summary>
    public static ControlPlaneTrust Pinned(string hash) =>
        PinProblem(hash) is { } problem ? throw new ArgumentException(problem, nameof(hash)) : new ControlPlaneTrust(null, hash.ToLowerInvariant(), null);

    /// <summary>Why <paramref name="hash"/> is not a pin, or null.</summary>
    public static string? PinProblem(string hash) =>
        hash.StartsWith(HashPrefix, StringComparison.OrdinalIgnoreCase) && hash.Length == HashPrefix.Length + 64
            && !hash.AsSpan(HashPrefix.Length).ContainsAnyExcept(HexDigits)
            ? null
            : $"\"{hash}\" is not a CA pin: expected {HashPrefix} and 64 hex digits (trellis ca status prints it)";

    /// <summary>The pin of <paramref name="root"/>: SHA-256 of its DER SubjectPublicKeyInfo, as kubeadm's CA hash (stays the same when a root is re-issued over the same key).</summary>
    public static string Hash(X509Certificate2 root) =>
        HashPrefix + Convert.ToHexStringLower(SHA256.HashData(root.PublicKey.ExportSubjectPublicKeyInfo()));

    /// <summary>Replaces the roots with a bundle fetched over an already trusted connection (an agent's CA bundle after a root rotation).</summary>
    public void Adopt(X509Certificate2Collection roots)
    {
        if (roots.Count > 0)
        {
            _roots = roots;
        }
    }

    /// <summary>Sets <paramref name="handler"/>'s certificate check to this trust; returns it.</summary>
    public SocketsHttpHandler Apply(SocketsHttpHandler handler)
    {
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Validate(certificate, chain, errors);
        return handler;
    }

    /// <summary>
    /// With a pin and no roots yet: fetches the public trust bundle (<c>GET /ca/v1/bundle</c>) from <paramref name="server"/>
    /// over TLS that is not verified yet, and adopts it only if one of its roots has the pinned hash and the certificate
    /// that connection presented chains to those roots (a relay that passes the real bundle along fails the second
    /// check). Nothing secret is sent on that connection, and all this happens before the join token is sent anywhere.
    /// Idempotent; nothing to do for http URLs or trusts that have roots.
    /// </summary>
    public async Task ResolveAsync(Uri server, CancellationToken cancellationToken)
    {
        if (_roots is not null || _pin is null || server.Scheme != Uri.UriSchemeHttps)
        {
            return;
        }

        using var handler = new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(3) };
        X509Certificate2? presented = null;
        var presentedChain = new X509Certificate2Collection();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            // Kept and checked below, against the pinned roots: until the bundle is in hand there is nothing to check it with.
            presented = certificate is null ? null : new X509Certificate2(certificate);
            presentedChain.AddRange(chain?.ChainPolicy.ExtraStore ?? []);
            return (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && certificate is not null;
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        var bundle = await http.GetFromJsonAsync(new Uri(server, "/ca/v1/bundle"), WireJsonContext.Default.TrustBundle, cancellationToken)
            ?? throw new IOException($"{server}: an empty trust bundle");
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(bundle.TrustBundlePem);
        if (!roots.Any(r => Hash(r) == _pin))
        {
            throw new IOException($"{server}: the CA bundle it serves has no root matching {_pin}: not the control plane that was pinned (or the pin is wrong)");
        }

        if (presented is null || !Chains(presented, presentedChain, roots))
        {
            throw new IOException($"{server}: its TLS certificate does not chain to the pinned CA {_pin}");
        }

        _roots = roots;
    }

    /// <summary>The check: the host name matched (the platform's check), and the chain ends at one of the roots.</summary>
    internal bool Validate(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        if (Roots() is not { Count: > 0 } roots)
        {
            return false; // a pin not resolved yet trusts nothing
        }

        using var leaf = new X509Certificate2(certificate);
        return Chains(leaf, presented?.ChainPolicy.ExtraStore ?? [], roots);
    }

    /// <summary>Whether <paramref name="leaf"/>, with the intermediates the server sent, chains to one of <paramref name="roots"/> and is valid now.</summary>
    private static bool Chains(X509Certificate2 leaf, X509Certificate2Collection intermediates, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        return chain.Build(leaf);
    }

    private X509Certificate2Collection? Roots()
    {
        if (_file is null)
        {
            return _roots;
        }

        var stamp = File.GetLastWriteTimeUtc(_file);
        if (_roots is null || stamp != _fileStamp)
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(_file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new InvalidDataException($"{_file}: the control plane's CA cannot be read: {e.Message}", e);
            }

            if (roots.Count == 0)
            {
                throw new InvalidDataException($"{_file}: no certificate in it (a PEM CA bundle is expected)");
            }

            _roots = roots;
            _fileStamp = stamp;
        }

        return _roots;
    }
}

using System.Collections.Frozen;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.Proxy.Identity;

/// <summary>A workload's certificate with its private key, the CA chain above it, and when it expires.</summary>
public sealed record WorkloadCertificate(string Identity, X509Certificate2 Certificate, X509Certificate2Collection Intermediates, DateTimeOffset NotAfter);

/// <summary>
/// The certificates a proxy holds for the workloads it serves (one per SPIFFE ID: a node proxy serves several service
/// accounts) and the trust bundle peers' certificates must chain to. The agent fills it from the CA and replaces
/// entries as they are renewed; readers take a frozen snapshot, so a renewal never tears a handshake.
/// </summary>
public sealed class WorkloadIdentities
{
    private readonly object _lock = new();
    private FrozenDictionary<string, WorkloadCertificate> _byIdentity = FrozenDictionary<string, WorkloadCertificate>.Empty;
    private X509Certificate2Collection _trustBundle = [];

    /// <summary>Raised after a certificate or the trust bundle changed.</summary>
    public event Action? Changed;

    public X509Certificate2Collection TrustBundle => Volatile.Read(ref _trustBundle);

    public IReadOnlyDictionary<string, WorkloadCertificate> All => Volatile.Read(ref _byIdentity);

    /// <summary>The certificate of <paramref name="identity"/> (<c>spiffe://...</c>), or null when none is held.</summary>
    public WorkloadCertificate? Get(string identity) => All.GetValueOrDefault(identity);

    public void Set(WorkloadCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        lock (_lock)
        {
            var next = new Dictionary<string, WorkloadCertificate>(_byIdentity, StringComparer.Ordinal) { [certificate.Identity] = certificate };
            Volatile.Write(ref _byIdentity, next.ToFrozenDictionary(StringComparer.Ordinal));
        }

        Changed?.Invoke();
    }

    public void Remove(string identity)
    {
        lock (_lock)
        {
            if (!_byIdentity.ContainsKey(identity))
            {
                return;
            }

            Volatile.Write(ref _byIdentity, _byIdentity.Where(p => p.Key != identity).ToFrozenDictionary(StringComparer.Ordinal));
        }

        Changed?.Invoke();
    }

    /// <summary>Replaces the roots peers must chain to (PEM, one or more certificates).</summary>
    public void SetTrustBundle(string pem)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(pem);
        Volatile.Write(ref _trustBundle, roots);
        Changed?.Invoke();
    }
}

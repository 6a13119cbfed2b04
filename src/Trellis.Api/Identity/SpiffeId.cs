using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.Api.Identity;

/// <summary>
/// A SPIFFE ID (<c>spiffe://trust-domain/path</c>, the SPIFFE-ID specification): the identity a workload certificate
/// carries as its one URI SAN. Workloads are named as Istio names them,
/// <c>spiffe://&lt;trust-domain&gt;/ns/&lt;namespace&gt;/sa/&lt;serviceAccount&gt;</c>; an AuthorizationPolicy principal
/// is the same without the scheme (<c>cluster.local/ns/default/sa/bookinfo-productpage</c>).
/// </summary>
public sealed record SpiffeId
{
    public const string Scheme = "spiffe://";

    /// <summary>Istio's default trust domain.</summary>
    public const string DefaultTrustDomain = "cluster.local";

    private SpiffeId(string trustDomain, string path)
    {
        TrustDomain = trustDomain;
        Path = path;
    }

    /// <summary>Lower-case letters, digits, '.', '-', '_' (SPIFFE-ID §2.1).</summary>
    public string TrustDomain { get; }

    /// <summary>Starts with '/', or is empty for the trust domain's own ID.</summary>
    public string Path { get; }

    /// <summary>The AuthorizationPolicy form: trust domain and path without the scheme.</summary>
    public string Principal => TrustDomain + Path;

    public override string ToString() => Scheme + TrustDomain + Path;

    /// <summary>The identity of every workload running as <paramref name="serviceAccount"/> in <paramref name="ns"/>.</summary>
    public static SpiffeId ForWorkload(string trustDomain, string ns, string serviceAccount) =>
        Parse($"{Scheme}{trustDomain}/ns/{ns}/sa/{serviceAccount}");

    public static SpiffeId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new FormatException(error);

    public static bool TryParse(string? text, [NotNullWhen(true)] out SpiffeId? id) => TryParse(text, out id, out _);

    /// <summary>Parses by the specification's rules; <paramref name="error"/> says what breaks them.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out SpiffeId? id, out string error)
    {
        id = null;
        if (string.IsNullOrEmpty(text) || !text.StartsWith(Scheme, StringComparison.Ordinal))
        {
            error = $"\"{text}\" does not start with {Scheme}";
            return false;
        }

        var rest = text.AsSpan(Scheme.Length);
        var slash = rest.IndexOf('/');
        var domain = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? [] : rest[slash..];
        if (domain.IsEmpty)
        {
            error = $"\"{text}\" has no trust domain";
            return false;
        }

        foreach (var c in domain)
        {
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '-' or '_'))
            {
                error = $"\"{text}\": the trust domain may hold only lower-case letters, digits, '.', '-' and '_'";
                return false;
            }
        }

        if (path.Length > 0 && !ValidPath(path, out error))
        {
            error = $"\"{text}\": {error}";
            return false;
        }

        id = new SpiffeId(domain.ToString(), path.ToString());
        error = "";
        return true;
    }

    /// <summary>The namespace and service account of an Istio workload ID (<c>/ns/X/sa/Y</c>); false for any other path.</summary>
    public bool TryGetWorkload([NotNullWhen(true)] out string? ns, [NotNullWhen(true)] out string? serviceAccount)
    {
        var parts = Path.Split('/');
        if (parts.Length == 5 && parts[0].Length == 0 && parts[1] == "ns" && parts[3] == "sa")
        {
            (ns, serviceAccount) = (parts[2], parts[4]);
            return true;
        }

        (ns, serviceAccount) = (null, null);
        return false;
    }

    /// <summary>
    /// The SPIFFE ID of a certificate: its one URI SAN (an X.509-SVID carries exactly one, SPIFFE X509-SVID §2); null
    /// when it has none, several, or one that is not a valid SPIFFE ID.
    /// </summary>
    public static SpiffeId? FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        SpiffeId? found = null;
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAltNameOid)
            {
                continue;
            }

            foreach (var uri in UriNames(extension))
            {
                if (found is not null || !TryParse(uri, out found))
                {
                    return null;
                }
            }
        }

        return found;
    }

    private const string SubjectAltNameOid = "2.5.29.17";

    /// <summary>The URI names of the subject-alternative-name extensions among <paramref name="extensions"/> (a CSR's or a certificate's).</summary>
    public static List<string> UriNames(IEnumerable<X509Extension> extensions) =>
        extensions.Where(e => e.Oid?.Value == SubjectAltNameOid).SelectMany(UriNames).ToList();

    /// <summary>The URI names of a SAN extension (.NET enumerates DNS names and IP addresses only).</summary>
    private static List<string> UriNames(X509Extension san)
    {
        var uris = new List<string>();
        var reader = new System.Formats.Asn1.AsnReader(san.RawData, System.Formats.Asn1.AsnEncodingRules.DER);
        var names = reader.ReadSequence();
        var uriTag = new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 6);
        while (names.HasData)
        {
            var tag = names.PeekTag();
            if (tag.HasSameClassAndValue(uriTag))
            {
                uris.Add(names.ReadCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, uriTag));
            }
            else
            {
                names.ReadEncodedValue();
            }
        }

        return uris;
    }

    private static bool ValidPath(ReadOnlySpan<char> path, out string error)
    {
        // Segments after each '/': non-empty, not '.' or '..', letters, digits, '.', '-', '_'.
        foreach (var range in path[1..].Split('/'))
        {
            var segment = path[1..][range];
            if (segment.IsEmpty || segment is "." or "..")
            {
                error = "path segments must not be empty, '.' or '..'";
                return false;
            }

            foreach (var c in segment)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
                {
                    error = $"'{c}' is not allowed in a path";
                    return false;
                }
            }
        }

        error = "";
        return true;
    }
}

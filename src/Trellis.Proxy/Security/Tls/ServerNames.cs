using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.Proxy.Security.Tls;

/// <summary>
/// Whether a server certificate names what the client expects, as Envoy's <c>match_subject_alt_names</c> checks it
/// (Istio's DestinationRule <c>subjectAltNames</c>, and auto SAN validation against the request's host): one of its
/// subject alternative names equals an expected name, a DNS name case-insensitively, where a certificate's
/// <c>*.example.com</c> stands for exactly one label (RFC 6125 §6.4.3), an IP address by value, a URI (SPIFFE ID)
/// exactly. The subject's common name is never read, as Envoy.
/// </summary>
internal static class ServerNames
{
    /// <summary>Null when <paramref name="certificate"/> names one of <paramref name="expected"/>, else why not.</summary>
    public static string? Check(X509Certificate2 certificate, IReadOnlyList<string> expected)
    {
        if (expected.Count == 0)
        {
            return null;
        }

        var names = Read(certificate);
        foreach (var name in expected)
        {
            if (names.Any(n => Matches(n, name)))
            {
                return null;
            }
        }

        var presented = names.Count == 0 ? "no subject alternative names" : string.Join(", ", names.Select(n => n.Value));
        return $"the certificate names {presented}, not {string.Join(" or ", expected)}";
    }

    /// <summary>One subject alternative name: its kind and value.</summary>
    internal readonly record struct AltName(AltNameKind Kind, string Value);

    internal enum AltNameKind
    {
        Dns,
        Ip,
        Uri,
    }

    internal static List<AltName> Read(X509Certificate2 certificate)
    {
        var names = new List<AltName>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames().Select(d => new AltName(AltNameKind.Dns, d)));
                names.AddRange(san.EnumerateIPAddresses().Select(a => new AltName(AltNameKind.Ip, a.ToString())));
            }
        }

        // .NET enumerates DNS names and addresses only; URIs (SPIFFE IDs among them) are read by the identity code.
        names.AddRange(Trellis.Api.Identity.SpiffeId.UriNames(certificate.Extensions.Cast<X509Extension>()).Select(u => new AltName(AltNameKind.Uri, u)));

        return names;
    }

    internal static bool Matches(AltName name, string expected) => name.Kind switch
    {
        AltNameKind.Ip => IPAddress.TryParse(expected, out var wanted) && IPAddress.TryParse(name.Value, out var ip) && wanted.Equals(ip),
        AltNameKind.Uri => string.Equals(name.Value, expected, StringComparison.Ordinal),
        _ => DnsMatches(name.Value, expected),
    };

    /// <summary>A certificate's DNS name against an expected host: equal, or <c>*.</c> plus the host minus its first label.</summary>
    internal static bool DnsMatches(string presented, string expected)
    {
        presented = presented.TrimEnd('.');
        expected = expected.TrimEnd('.');
        if (string.Equals(presented, expected, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!presented.StartsWith("*.", StringComparison.Ordinal))
        {
            return false;
        }

        var dot = expected.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && string.Equals(presented[1..], expected[dot..], StringComparison.OrdinalIgnoreCase);
    }
}

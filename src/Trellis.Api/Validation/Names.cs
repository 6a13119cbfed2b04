using System.Text.RegularExpressions;

namespace Trellis.Api.Validation;

/// <summary>The name formats Kubernetes enforces (k8s.io/apimachinery/pkg/util/validation).</summary>
public static partial class Names
{
    /// <summary>RFC 1123 label: at most 63 lowercase alphanumerics or '-', starting and ending alphanumeric (namespaces, container names).</summary>
    public static bool IsDns1123Label(string s) => s.Length is > 0 and <= 63 && Dns1123Label().IsMatch(s);

    /// <summary>RFC 1123 subdomain: dot-separated labels, at most 253 characters (most object names).</summary>
    public static bool IsDns1123Subdomain(string s) => s.Length is > 0 and <= 253 && Dns1123Subdomain().IsMatch(s);

    /// <summary>RFC 1035 label: like a 1123 label but starting with a letter (Service names).</summary>
    public static bool IsDns1035Label(string s) => s.Length is > 0 and <= 63 && Dns1035Label().IsMatch(s);

    /// <summary>A label or annotation key: optional DNS subdomain prefix and '/', then a name of at most 63 characters.</summary>
    public static bool IsQualifiedName(string s)
    {
        var slash = s.LastIndexOf('/');
        var name = slash < 0 ? s : s[(slash + 1)..];
        if (slash >= 0 && !IsDns1123Subdomain(s[..slash]))
        {
            return false;
        }

        return name.Length is > 0 and <= 63 && QualifiedName().IsMatch(name);
    }

    /// <summary>A label value: empty, or at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric.</summary>
    public static bool IsLabelValue(string s) => s.Length == 0 || (s.Length <= 63 && QualifiedName().IsMatch(s));

    /// <summary>An IANA service name as used for port names: at most 15 lowercase alphanumerics or '-', with a letter, no "--".</summary>
    public static bool IsPortName(string s) =>
        s.Length is > 0 and <= 15 && PortName().IsMatch(s) && s.Any(char.IsAsciiLetter) && !s.Contains("--", StringComparison.Ordinal);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1123Label();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Dns1123Subdomain();

    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1035Label();

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex QualifiedName();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex PortName();
}

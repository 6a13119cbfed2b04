namespace Trellis.Api.Access;

/// <summary>
/// What a credential may do with the control plane's API, after Kubernetes' ClusterRoles (docs/security.md). The
/// order matters: each of <see cref="View"/>, <see cref="Edit"/> and <see cref="Admin"/> includes the ones before it.
/// <see cref="Proxy"/> stands apart: a data-plane credential that may only open the push stream as the proxy it is
/// bound to and send the serving reports.
/// </summary>
public enum ApiRole
{
    /// <summary>Read everything except Secret data (<c>data</c>/<c>stringData</c> are removed from what it reads).</summary>
    View = 1,

    /// <summary>View, plus apply and delete resources, and read Secret data (Kubernetes' edit).</summary>
    Edit = 2,

    /// <summary>Everything: token management and the CA's operations included.</summary>
    Admin = 3,

    /// <summary>A standalone proxy (<c>trellis proxy</c>): the push stream as the proxy named by the token, and serving reports.</summary>
    Proxy = 10,
}

/// <summary>Parsing and printing of <see cref="ApiRole"/>, as <c>--role</c> takes it.</summary>
public static class ApiRoles
{
    public static readonly IReadOnlyList<string> Names = ["view", "edit", "admin", "proxy"];

    public static string Name(ApiRole role) => role switch
    {
        ApiRole.View => "view",
        ApiRole.Edit => "edit",
        ApiRole.Admin => "admin",
        ApiRole.Proxy => "proxy",
        _ => role.ToString().ToLowerInvariant(),
    };

    public static bool TryParse(string? text, out ApiRole role)
    {
        role = text switch
        {
            "view" => ApiRole.View,
            "edit" => ApiRole.Edit,
            "admin" => ApiRole.Admin,
            "proxy" => ApiRole.Proxy,
            _ => 0,
        };
        return role != 0;
    }

    /// <summary>
    /// Whether a holder of <paramref name="held"/> may do what needs <paramref name="needed"/>: the user roles are
    /// ordered (admin ⊇ edit ⊇ view); <see cref="ApiRole.Proxy"/> grants only itself (admin may act as a proxy too).
    /// </summary>
    public static bool Includes(ApiRole held, ApiRole needed) => needed == ApiRole.Proxy
        ? held is ApiRole.Proxy or ApiRole.Admin
        : held != ApiRole.Proxy && held >= needed;
}

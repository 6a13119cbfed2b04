using Trellis.Api.Access;

namespace Trellis.ControlPlane.Auth;

/// <summary>What a request needs: nothing, a role, or a data-plane identity (a node, or a proxy token).</summary>
public readonly record struct Access(AccessKind Kind, ApiRole Role = ApiRole.View)
{
    public static readonly Access Public = new(AccessKind.Public);
    public static readonly Access DataPlane = new(AccessKind.DataPlane);

    public static Access Needs(ApiRole role) => new(AccessKind.Role, role);

    public override string ToString() => Kind switch
    {
        AccessKind.Public => "public",
        AccessKind.DataPlane => "a node or proxy identity",
        _ => "role " + ApiRoles.Name(Role),
    };
}

public enum AccessKind
{
    Public,
    Role,
    DataPlane,
}

/// <summary>
/// The API's authorization rules, in one table (docs/security.md lists the same). Reads need <c>view</c>, writes
/// <c>edit</c>, token management <c>admin</c>; the data plane's doors (registry, push stream, serving reports) need a
/// node identity or a proxy token; a few paths are public. A path no row names falls to the last two rows: GET needs
/// view, anything else edit. A new endpoint that must be stricter than that (the views' <c>tap</c>) adds its row here.
/// </summary>
public static class ApiAccess
{
    private static readonly (string Method, string Prefix, Access Access)[] Rules =
    [
        ("GET", "/healthz", Access.Public),
        ("GET", "/metrics", Access.Public), // Prometheus scrapes it as istiod's monitoring port is scraped: usage figures, no resources
        ("GET", "/ca/v1/bundle", Access.Public), // the roots are public; a joining node needs them before it has an identity
        ("POST", "/ca/v1/join", Access.Public), // the join token is checked by the CA itself
        ("POST", "/ca/v1/certificates", Access.Public), // signed by the node key inside the body, checked by the CA
        ("POST", "/ca/v1/rotate", Access.Needs(ApiRole.Admin)), // changes what every workload trusts
        ("GET", "/auth/v1/whoami", Access.Needs(ApiRole.View)),
        ("*", "/auth/", Access.Needs(ApiRole.Admin)),
        ("PUT", "/registry/v1/nodes/", Access.DataPlane),
        ("POST", "/push/v1/stream", Access.DataPlane),
        ("POST", "/serving/v1/load", Access.DataPlane),
        ("POST", "/serving/v1/demand", Access.DataPlane),
        ("POST", "/serving/v1/metering", Access.DataPlane),
        ("GET", "/debug/snapshot/", Access.Needs(ApiRole.Edit)), // snapshots carry gateways' private keys (from Secrets)
        ("GET", "/debug/tap", Access.Needs(ApiRole.Edit)), // live requests: headers (tokens, cookies) and paths of anyone's calls
        ("POST", "/analyze", Access.Needs(ApiRole.View)), // changes nothing
        ("GET", "/", Access.Needs(ApiRole.View)),
        ("*", "/", Access.Needs(ApiRole.Edit)),
    ];

    public static Access Required(string method, string path)
    {
        foreach (var (m, prefix, access) in Rules)
        {
            if ((m == "*" || string.Equals(m, method, StringComparison.OrdinalIgnoreCase))
                && (prefix.EndsWith('/') ? path.StartsWith(prefix, StringComparison.Ordinal) : path == prefix))
            {
                return access;
            }
        }

        return Access.Needs(ApiRole.Admin); // not reached: the last row matches every path
    }

    /// <summary>Whether <paramref name="principal"/> may do what <paramref name="access"/> asks; null is nobody.</summary>
    public static bool Allows(ApiPrincipal? principal, Access access) => access.Kind switch
    {
        AccessKind.Public => true,
        AccessKind.DataPlane => principal?.IsDataPlane == true,
        _ => principal?.Has(access.Role) == true,
    };
}

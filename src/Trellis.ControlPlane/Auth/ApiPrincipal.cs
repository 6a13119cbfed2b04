using Microsoft.AspNetCore.Http;
using Trellis.Api.Access;

namespace Trellis.ControlPlane.Auth;

/// <summary>
/// Who sent a request: a token's holder (with its role) or a joined node (by its node certificate). Set on the request
/// by <see cref="ApiAuthentication"/> before any endpoint runs; endpoints that scope further (the registry, the push
/// stream, Secret data) read it with <see cref="Of"/>.
/// </summary>
public sealed record ApiPrincipal(string Name, ApiRole? Role, string? Node)
{
    private const string ItemKey = "trellis.principal";

    public static ApiPrincipal ForToken(ApiToken token) => new(token.Name, token.Role, null);

    public static ApiPrincipal ForNode(string node) => new("node/" + node, null, node);

    /// <summary>The principal of a request; null only on public paths (health, join, bundle).</summary>
    public static ApiPrincipal? Of(HttpContext context) => context.Items.TryGetValue(ItemKey, out var p) ? p as ApiPrincipal : null;

    internal void Attach(HttpContext context) => context.Items[ItemKey] = this;

    public bool IsNode => Node is not null;

    /// <summary>What <c>trellis token list</c>, logs and refusals call it: <c>token "ci" (role edit)</c>, <c>node a1</c>.</summary>
    public string Describe() => Role is { } role ? $"token \"{Name}\" (role {ApiRoles.Name(role)})" : $"node {Node}";

    /// <summary>
    /// The role check of docs/security.md, for endpoints with a rule of their own (the views' <c>tap</c> is an example:
    /// <c>ApiPrincipal.Of(c)?.Has(ApiRole.Edit)</c>). A node reads as <see cref="ApiRole.View"/> does (the agent
    /// watches Deployments) and no more.
    /// </summary>
    public bool Has(ApiRole needed) => Role is { } role ? ApiRoles.Includes(role, needed) : needed == ApiRole.View;

    /// <summary>Whether <c>data</c> and <c>stringData</c> of Secrets are shown to it: edit and admin only.</summary>
    public bool SeesSecretData => Role is { } role && ApiRoles.Includes(role, ApiRole.Edit);

    /// <summary>Whether it may speak for the data plane (push stream, serving reports): a node, a proxy token, or admin.</summary>
    public bool IsDataPlane => IsNode || Role is ApiRole.Proxy or ApiRole.Admin;
}

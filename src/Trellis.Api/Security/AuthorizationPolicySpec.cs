using System.Text.Json.Serialization;
using Trellis.Api.Networking;

namespace Trellis.Api.Security;

/// <summary>
/// Istio <c>AuthorizationPolicy</c>: allow, deny or audit requests to the selected workloads by source, operation
/// and conditions. An empty spec allows nothing. See istio/api <c>security/v1beta1/authorization.proto</c>.
/// </summary>
public sealed record AuthorizationPolicySpec
{
    public WorkloadLabelSelector? Selector { get; init; }

    public PolicyTargetReference? TargetRef { get; init; }

    public IReadOnlyList<PolicyTargetReference> TargetRefs { get; init; } = [];

    public IReadOnlyList<Rule> Rules { get; init; } = [];

    public AuthorizationAction? Action { get; init; }

    /// <summary>The external authorizer, required when <see cref="Action"/> is CUSTOM.</summary>
    public ExtensionProvider? Provider { get; init; }
}

public enum AuthorizationAction
{
    [JsonStringEnumMemberName("ALLOW")]
    Allow,
    [JsonStringEnumMemberName("DENY")]
    Deny,
    [JsonStringEnumMemberName("AUDIT")]
    Audit,
    [JsonStringEnumMemberName("CUSTOM")]
    Custom,
}

public sealed record ExtensionProvider
{
    public required string Name { get; init; }
}

/// <summary>A rule matches when any <see cref="From"/>, any <see cref="To"/> and all <see cref="When"/> match.</summary>
public sealed record Rule
{
    public IReadOnlyList<RuleFrom> From { get; init; } = [];

    public IReadOnlyList<RuleTo> To { get; init; } = [];

    public IReadOnlyList<Condition> When { get; init; } = [];
}

public sealed record RuleFrom
{
    public required Source Source { get; init; }
}

public sealed record RuleTo
{
    public required Operation Operation { get; init; }
}

public sealed record Source
{
    public IReadOnlyList<string> Principals { get; init; } = [];

    public IReadOnlyList<string> NotPrincipals { get; init; } = [];

    public IReadOnlyList<string> RequestPrincipals { get; init; } = [];

    public IReadOnlyList<string> NotRequestPrincipals { get; init; } = [];

    public IReadOnlyList<string> Namespaces { get; init; } = [];

    public IReadOnlyList<string> NotNamespaces { get; init; } = [];

    public IReadOnlyList<string> IpBlocks { get; init; } = [];

    public IReadOnlyList<string> NotIpBlocks { get; init; } = [];

    public IReadOnlyList<string> RemoteIpBlocks { get; init; } = [];

    public IReadOnlyList<string> NotRemoteIpBlocks { get; init; } = [];
}

public sealed record Operation
{
    public IReadOnlyList<string> Hosts { get; init; } = [];

    public IReadOnlyList<string> NotHosts { get; init; } = [];

    public IReadOnlyList<string> Ports { get; init; } = [];

    public IReadOnlyList<string> NotPorts { get; init; } = [];

    public IReadOnlyList<string> Methods { get; init; } = [];

    public IReadOnlyList<string> NotMethods { get; init; } = [];

    public IReadOnlyList<string> Paths { get; init; } = [];

    public IReadOnlyList<string> NotPaths { get; init; } = [];
}

/// <summary>An attribute condition such as <c>request.headers[version]</c> in <see cref="Values"/>.</summary>
public sealed record Condition
{
    public required string Key { get; init; }

    public IReadOnlyList<string> Values { get; init; } = [];

    public IReadOnlyList<string> NotValues { get; init; } = [];
}

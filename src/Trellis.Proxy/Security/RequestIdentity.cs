using System.Net;
using System.Text.Json;

namespace Trellis.Proxy.Security;

/// <summary>
/// Who is calling, as authorization sees it: the peer's SPIFFE principal (<c>cluster.local/ns/X/sa/Y</c>, from its mTLS
/// certificate; empty for a cleartext peer), the client address, and the end user of a validated JWT.
/// </summary>
internal readonly struct RequestIdentity(string principal, string clientAddress, JwtIdentity? user)
{
    public string Principal { get; } = principal;

    public string ClientAddress { get; } = clientAddress;

    public JwtIdentity? User { get; } = user;

    /// <summary>The namespace of an Istio workload principal (<c>.../ns/&lt;ns&gt;/sa/...</c>); empty otherwise.</summary>
    public ReadOnlySpan<char> Namespace
    {
        get
        {
            var p = Principal.AsSpan();
            var at = p.IndexOf("/ns/");
            if (at < 0)
            {
                return [];
            }

            var rest = p[(at + 4)..];
            var end = rest.IndexOf('/');
            return end < 0 ? rest : rest[..end];
        }
    }

    public IPAddress? Address => IPAddress.TryParse(ClientAddress, out var address) ? address : null;
}

/// <summary>The end user of a validated JWT: <c>iss/sub</c> as Istio's <c>request.auth.principal</c>, its audiences, <c>azp</c> and claims.</summary>
internal sealed record JwtIdentity(string Principal, IReadOnlyList<string> Audiences, string Presenter, JsonElement Claims)
{
    /// <summary>The values of a claim at <paramref name="path"/> (nested objects by name): a string, or each string of an array.</summary>
    public IEnumerable<string> Claim(IReadOnlyList<string> path)
    {
        var at = Claims;
        foreach (var name in path)
        {
            if (at.ValueKind != JsonValueKind.Object || !at.TryGetProperty(name, out at))
            {
                yield break;
            }
        }

        if (at.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in at.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String)
                {
                    yield return item.GetString()!;
                }
            }
        }
        else if (at.ValueKind == JsonValueKind.String)
        {
            yield return at.GetString()!;
        }
        else if (at.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
        {
            yield return at.GetRawText();
        }
    }
}

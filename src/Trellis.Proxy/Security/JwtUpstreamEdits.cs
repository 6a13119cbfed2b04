using System.Collections.Frozen;
using System.Text.Json;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Security;

/// <summary>
/// What a verified token of one JWT rule changes in the request sent upstream, as Envoy's <c>jwt_authn</c> does for
/// Istio: the header the token came from is removed unless <c>forwardOriginalToken</c> (Envoy's <c>forward</c>; a token
/// from a query parameter or a cookie stays, as in Envoy), <c>outputPayloadToHeader</c> carries the payload as it was
/// signed (base64url, Envoy's <c>forward_payload_header</c>), and <c>outputClaimToHeaders</c> copies top-level string,
/// number and boolean claims (Envoy's <c>claim_to_headers</c>; other claims, and values a header cannot carry, are left
/// out). Client-sent headers of those names are replaced, so a client cannot forge them. Applied before the route's
/// header operations, as the filter runs before the router.
/// </summary>
internal sealed class JwtUpstreamEdits
{
    private readonly JwtProviderConfig _config;

    // Without outputs, the edit depends on the token's header only: made once per header, shared by every request.
    private readonly FrozenDictionary<string, HeaderOperations>? _removeOnly;

    public JwtUpstreamEdits(JwtProviderConfig config, JwtTokenSources sources)
    {
        _config = config;
        if (!HasOutputs && !config.ForwardOriginalToken)
        {
            _removeOnly = sources.Headers.Select(h => h.Name).Distinct(StringComparer.OrdinalIgnoreCase)
                .ToFrozenDictionary(n => n, n => HeaderOperations.Create(new HeaderOperationsConfig(Remove: [n]))!, StringComparer.OrdinalIgnoreCase);
        }
    }

    private bool HasOutputs => _config.OutputPayloadToHeader is { Length: > 0 } || _config.OutputClaimToHeaders is { Count: > 0 };

    /// <summary>
    /// The edits for a verified token with <paramref name="encodedPayload"/> (as signed) and its parsed
    /// <paramref name="claims"/>, found in <paramref name="header"/> (null: not in a header); null when none.
    /// </summary>
    public HeaderOperations? For(string encodedPayload, JsonElement claims, string? header)
    {
        var remove = !_config.ForwardOriginalToken && header is not null;
        if (!HasOutputs)
        {
            return remove ? _removeOnly!.GetValueOrDefault(header!) : null;
        }

        var set = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (_config.OutputPayloadToHeader is { Length: > 0 } payloadHeader)
        {
            set[payloadHeader] = encodedPayload;
        }

        foreach (var (name, claim) in _config.OutputClaimToHeaders ?? [])
        {
            if (ClaimText(claims, claim) is { } value)
            {
                set[name] = value;
            }
            else
            {
                set.Remove(name); // nothing to copy: a client-sent header of that name must not pass as the claim
            }
        }

        // A claim header with no value still replaces what the client sent: removed.
        var removed = (_config.OutputClaimToHeaders ?? []).Select(c => c.Header).Where(h => !set.ContainsKey(h)).ToList();
        if (remove)
        {
            removed.Add(header!);
        }

        return HeaderOperations.Create(new HeaderOperationsConfig(Set: set, Remove: removed));
    }

    /// <summary>A top-level claim as header text: strings as they are, numbers and booleans as JSON writes them; null otherwise.</summary>
    internal static string? ClaimText(JsonElement claims, string claim)
    {
        if (claims.ValueKind != JsonValueKind.Object || !claims.TryGetProperty(claim, out var value))
        {
            return null;
        }

        var text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
            _ => null,
        };
        return text is not null && IsFieldValue(text) ? text : null;
    }

    /// <summary>A value an HTTP field can carry as it is (RFC 9110 §5.5): no control characters (CR, LF, NUL...), no edge whitespace.</summary>
    private static bool IsFieldValue(string text) =>
        text.Length > 0 && text.Trim().Length == text.Length && !text.Any(c => c < 0x20 || c == 0x7F);
}

using System.Text.Json;

namespace Trellis.Api.Security;

/// <summary>
/// The shape of a JSON Web Key Set (RFC 7517 §5): an object whose <c>keys</c> is a non-empty array of keys, each an
/// object with a <c>kty</c>. Checked for an inline <c>jwks</c> at apply and for a fetched one before it is used; the
/// keys themselves are read by the proxy's JWT library.
/// </summary>
public static class JwksDocument
{
    /// <summary>Null when <paramref name="text"/> is a JWKS; otherwise what is wrong with it.</summary>
    public static string? Check(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
            {
                return "a JWKS is an object with a \"keys\" array";
            }

            if (keys.GetArrayLength() == 0)
            {
                return "the JWKS has no keys";
            }

            var i = 0;
            foreach (var key in keys.EnumerateArray())
            {
                if (key.ValueKind != JsonValueKind.Object || !key.TryGetProperty("kty", out var kty) || kty.ValueKind != JsonValueKind.String)
                {
                    return $"keys[{i}] has no \"kty\"";
                }

                i++;
            }

            return null;
        }
        catch (JsonException e)
        {
            return $"not JSON: {e.Message}";
        }
    }
}

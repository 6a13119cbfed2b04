namespace Trellis.Api.Workloads;

/// <summary>
/// Kubernetes <c>Secret</c>; its fields sit at the top level of the document. Gateways read TLS
/// credentials from <c>kubernetes.io/tls</c> secrets (<c>tls.crt</c>, <c>tls.key</c>) named by
/// <c>credentialName</c>, as Istio does.
/// </summary>
public sealed record SecretData
{
    public string? Type { get; init; }

    /// <summary>Base64 values.</summary>
    public IReadOnlyDictionary<string, string> Data { get; init; } = new Dictionary<string, string>();

    /// <summary>Plain values; on read they win over <see cref="Data"/> for the same key, as the API server merges them.</summary>
    public IReadOnlyDictionary<string, string> StringData { get; init; } = new Dictionary<string, string>();

    public bool? Immutable { get; init; }

    /// <summary>The value of <paramref name="key"/> as text: stringData first, else decoded data; null when absent or not base64.</summary>
    public string? Get(string key)
    {
        if (StringData.TryGetValue(key, out var plain))
        {
            return plain;
        }

        if (!Data.TryGetValue(key, out var encoded))
        {
            return null;
        }

        try
        {
            return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

namespace Trellis.Api;

/// <summary>What Trellis knows about one kind: its group and served versions, kubectl names, and spec record type.</summary>
/// <param name="Versions">Served versions, preferred first.</param>
/// <param name="SpecType">The record <c>spec</c> binds to; null for kinds without a spec (ServiceAccount).</param>
public sealed record KindInfo(
    string Group,
    IReadOnlyList<string> Versions,
    string Kind,
    string Plural,
    IReadOnlyList<string> ShortNames,
    bool Namespaced,
    Type? SpecType)
{
    public string PreferredApiVersion => Group.Length == 0 ? Versions[0] : $"{Group}/{Versions[0]}";

    /// <summary>
    /// The spec's fields are written at the top level of the document, beside <c>metadata</c>, as Kubernetes does for
    /// ConfigMap (<c>data</c>) and EndpointSlice; <see cref="Resource.Spec"/> still holds them as one record.
    /// </summary>
    public bool SpecAtTopLevel { get; init; }

    /// <summary>The singular resource name kubectl accepts: the kind, lowercased.</summary>
    public string Singular => Kind.ToLowerInvariant();

    /// <summary>Whether <paramref name="apiVersion"/> is <c>group/version</c> (or the bare version for the core group) of a served version.</summary>
    public bool Serves(string apiVersion)
    {
        foreach (var version in Versions)
        {
            var full = Group.Length == 0 ? version : $"{Group}/{version}";
            if (string.Equals(full, apiVersion, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}

namespace Trellis.Proxy.Routing;

/// <summary>Request headers by name, for routing: several fields of one name join with a comma, as <c>StringValues.ToString()</c> does.</summary>
internal interface IRequestHeaderLookup
{
    bool TryGetHeader(string name, out string value);

    /// <summary>
    /// The first field named <paramref name="name"/> copied into <paramref name="destination"/> as characters, without
    /// allocating (telemetry reads trace and peer headers on every request); its length, or -1 when there is none or
    /// it does not fit.
    /// </summary>
    int CopyHeader(string name, Span<char> destination);
}

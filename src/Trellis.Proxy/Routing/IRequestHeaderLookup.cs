namespace Trellis.Proxy.Routing;

/// <summary>Request headers by name, for routing: several fields of one name join with a comma, as <c>StringValues.ToString()</c> does.</summary>
internal interface IRequestHeaderLookup
{
    bool TryGetHeader(string name, out string value);
}

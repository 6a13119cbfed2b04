namespace Trellis.Proxy.Routing;

/// <summary>Result of routing one request; a struct so that a lookup allocates nothing.</summary>
internal readonly record struct RouteMatch(CompiledVirtualHost? VirtualHost, CompiledRoute? Route, CompiledMatch? Matched);

namespace Trellis.Proxy.Routing;

internal sealed class CompiledVirtualHost
{
    public CompiledVirtualHost(string name, CompiledRoute[] routes)
    {
        Name = name;
        Routes = routes;
    }

    public string Name { get; }

    public CompiledRoute[] Routes { get; }
}

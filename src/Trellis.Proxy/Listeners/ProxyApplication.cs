using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Abstractions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The whole "application" Kestrel runs for a listener: one request delegate, no middleware.
/// Reuses the HttpContext per connection like ASP.NET Core hosting does, so a request on a
/// kept-alive connection does not allocate a new context.
/// </summary>
internal sealed class ProxyApplication : IHttpApplication<HttpContext>
{
    private readonly RequestDelegate _handler;

    public ProxyApplication(RequestDelegate handler) => _handler = handler;

    public HttpContext CreateContext(IFeatureCollection contextFeatures)
    {
        if (contextFeatures is IHostContextContainer<HttpContext> container)
        {
            if (container.HostContext is DefaultHttpContext reused)
            {
                reused.Initialize(contextFeatures);
                return reused;
            }

            var created = new DefaultHttpContext(contextFeatures);
            container.HostContext = created;
            return created;
        }

        return new DefaultHttpContext(contextFeatures);
    }

    public Task ProcessRequestAsync(HttpContext context) => _handler(context);

    public void DisposeContext(HttpContext context, Exception? exception)
    {
        if (context is DefaultHttpContext defaultContext)
        {
            defaultContext.Uninitialize();
        }
    }
}

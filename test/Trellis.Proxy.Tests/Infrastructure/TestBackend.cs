using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>A real Kestrel upstream on 127.0.0.1 with a free port, answering with the given delegate.</summary>
internal sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestBackend(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public EndpointConfig Endpoint => new("127.0.0.1", Port);

    public static async Task<TestBackend> StartAsync(
        RequestDelegate handler,
        Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1,
        bool webSockets = false,
        Action<ListenOptions>? listen = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = null;
            o.AllowAlternateSchemes = true; // an HTTP/2 request's :scheme may name http on a TLS connection (RFC 8164)
            o.Listen(IPAddress.Loopback, 0, l =>
            {
                l.Protocols = protocols;
                listen?.Invoke(l);
            });
        });
        var app = builder.Build();
        if (webSockets)
        {
            app.UseWebSockets();
        }

        app.Run(handler);
        await app.StartAsync();
        var address = app.Urls.First().Replace("https://", "http://", StringComparison.Ordinal);
        return new TestBackend(app, new Uri(address).Port);
    }

    /// <summary>
    /// An HTTPS server with <paramref name="certificate"/> (a server outside the mesh), optionally requiring a client
    /// certificate of <paramref name="clientCa"/>; it answers with the server name the client sent and the subject of
    /// its certificate: <c>tls sni=NAME client=SUBJECT</c>.
    /// </summary>
    public static Task<TestBackend> StartTlsAsync(
        System.Security.Cryptography.X509Certificates.X509Certificate2 certificate,
        System.Security.Cryptography.X509Certificates.X509Certificate2? clientCa = null,
        Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1) =>
        StartAsync(
            context => context.Response.WriteAsync(
                $"tls sni={context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>()?.Items["sni"]} client={context.Connection.ClientCertificate?.Subject} {context.Request.Protocol}"),
            protocols,
            listen: l => l.UseHttps(https =>
            {
                // The selector sees the server name the client sent (SNI), kept with the connection for the answer.
                https.ServerCertificateSelector = (connection, name) =>
                {
                    connection!.Items["sni"] = name;
                    return certificate;
                };
                if (clientCa is not null)
                {
                    https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate;
                    https.ClientCertificateValidation = (client, _, _) =>
                    {
                        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                        chain.ChainPolicy.CustomTrustStore.Add(clientCa);
                        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                        return chain.Build(client);
                    };
                }
            }));

    /// <summary>Answers every request with a short text that names this backend.</summary>
    public static Task<TestBackend> StartNamedAsync(string name) =>
        StartAsync(context => context.Response.WriteAsync(name));

    public async ValueTask DisposeAsync()
    {
        // Tests leave hanging requests behind on purpose; do not wait the default 30 s for them.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}

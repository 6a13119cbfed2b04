using System.Net.Http.Headers;

namespace Trellis.Api.Access;

/// <summary>
/// How a client of the control plane's API proves who it is, added to each request: a bearer token (users, standalone
/// proxies) or a signature by a node key (agents, <see cref="NodeSignature"/>). One interface so the push stream, the
/// serving reports and the CLI take any of them.
/// </summary>
public interface IRequestCredential
{
    ValueTask ApplyAsync(HttpRequestMessage request, CancellationToken cancellationToken);
}

/// <summary><c>Authorization: Bearer &lt;token&gt;</c>.</summary>
public sealed class BearerCredential(string token) : IRequestCredential
{
    public ValueTask ApplyAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Adds a credential to every request an <see cref="HttpClient"/> sends.</summary>
public sealed class CredentialHandler(IRequestCredential credential, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await credential.ApplyAsync(request, cancellationToken);
        return await base.SendAsync(request, cancellationToken);
    }
}

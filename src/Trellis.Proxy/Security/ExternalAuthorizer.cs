using System.Net.Http.Headers;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Security;

/// <summary>
/// An HTTP external authorizer (Istio's <c>envoyExtAuthzHttp</c>, Envoy's ext_authz HTTP service) as a CUSTOM policy
/// calls it. The check request has the client request's method, <c>pathPrefix</c> + path and query, its host, the
/// headers <c>includeRequestHeadersInCheck</c> names (exact names) and <c>includeAdditionalHeadersInCheck</c>, and no
/// body. A 2xx answer allows, with the answer's headers <c>headersToUpstreamOnAllow</c> matches set on the upstream
/// request; any other answer goes back to the client with its status, body (up to 64 KiB) and the headers
/// <c>headersToDownstreamOnDeny</c> matches. An authorizer that cannot be reached, fails or outlasts <c>timeout</c>
/// (on the injected clock) is <c>statusOnError</c> (403), unless <c>failOpen</c>. Refusals carry flag UAEX.
/// </summary>
internal sealed class ExternalAuthorizer
{
    private const int BodyLimit = 64 * 1024;

    // One connection pool for every authorizer of the process (Envoy keeps one cluster per provider).
    private static readonly HttpMessageInvoker Client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    });

    private readonly ExtAuthzConfig _config;
    private readonly TimeProvider _time;
    private readonly string _origin;
    private readonly StringPattern[] _toUpstream;
    private readonly StringPattern[] _toDownstream;

    public ExternalAuthorizer(ExtAuthzConfig config, TimeProvider time)
    {
        _config = config;
        _time = time;
        var host = config.Service.Contains(':', StringComparison.Ordinal) ? $"[{config.Service}]" : config.Service;
        _origin = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"http://{host}:{config.Port}{config.PathPrefix}");
        _toUpstream = StringPattern.All(config.HeadersToUpstreamOnAllow, ignoreCase: true);
        _toDownstream = StringPattern.All(config.HeadersToDownstreamOnDeny, ignoreCase: true);
    }

    /// <summary>The authorizer's answer: a refusal to send to the client, or null and the edits of the upstream request.</summary>
    public async ValueTask<(LocalReply? Refusal, HeaderOperations? Upstream)> CheckAsync(IExchange exchange)
    {
        var request = exchange.Request;
        using var check = new HttpRequestMessage(new HttpMethod(request.Method), _origin + request.Path + request.Query);
        check.Headers.Host = request.Authority;
        foreach (var name in _config.IncludeRequestHeadersInCheck)
        {
            if (request.TryGetHeader(name, out var value))
            {
                check.Headers.TryAddWithoutValidation(name, value);
            }
        }

        foreach (var (name, value) in _config.IncludeAdditionalHeadersInCheck)
        {
            check.Headers.TryAddWithoutValidation(name, value);
        }

        using var timeout = new CancellationTokenSource(_config.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, exchange.ClientGone);
        try
        {
            using var response = await Client.SendAsync(check, linked.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                var set = Matching(response, _toUpstream);
                return (null, set.Length == 0 ? null : HeaderOperations.Create(new HeaderOperationsConfig(Set: set.ToDictionary(StringComparer.OrdinalIgnoreCase))));
            }

            var body = await ReadAsync(response.Content, linked.Token).ConfigureAwait(false);
            var contentType = response.Content.Headers.ContentType?.ToString();
            var headers = Matching(response, _toDownstream).Where(h => !h.Key.Equals("content-type", StringComparison.OrdinalIgnoreCase)).ToArray();
            return (new LocalReply(status, body, ResponseFlags.UnauthorizedExternalService, ForwardError.None, body.Length == 0 ? null : contentType ?? "text/plain", headers.Length == 0 ? null : headers), null);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            // Envoy's failure_mode_allow and status_on_error: the authorizer said nothing.
            return _config.FailOpen
                ? (null, null)
                : (new LocalReply(_config.StatusOnError, default, ResponseFlags.UnauthorizedExternalService, ForwardError.None, null), null);
        }
    }

    private static KeyValuePair<string, string>[] Matching(HttpResponseMessage response, StringPattern[] patterns)
    {
        if (patterns.Length == 0)
        {
            return [];
        }

        IEnumerable<KeyValuePair<string, IEnumerable<string>>> all = response.Headers;
        return all.Concat(response.Content.Headers)
            .Where(h => StringPattern.Any(patterns, h.Key))
            .Select(h => new KeyValuePair<string, string>(h.Key.ToLowerInvariant(), string.Join(", ", h.Value)))
            .ToArray();
    }

    private static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpContent content, CancellationToken token)
    {
        await using var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
        var buffer = new byte[BodyLimit];
        var read = 0;
        int n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), token).ConfigureAwait(false)) > 0)
        {
            read += n;
        }

        return buffer.AsMemory(0, read);
    }
}

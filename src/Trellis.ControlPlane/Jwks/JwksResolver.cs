using System.Collections.Immutable;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Trellis.Api;
using Trellis.Api.Security;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Jwks;

/// <summary>
/// Fetches the <c>jwksUri</c> of every RequestAuthentication rule and keeps the documents for the compiler, which
/// inlines them into the snapshots (istiod's JWKS resolver does the same, so proxies never reach out for keys). A URI
/// is fetched when a rule first names it, refreshed every <see cref="RefreshInterval"/> (Istio's
/// <c>PILOT_JWT_PUB_KEY_REFRESH_INTERVAL</c>, 20 minutes), and retried with a doubling backoff while it fails. A
/// refresh that fails keeps the last good document; a URI never fetched has none, and the proxies then refuse every
/// token of that issuer (never accept an unverifiable one). Each new document raises <see cref="Changed"/>.
/// </summary>
public sealed partial class JwksResolver : IAsyncDisposable
{
    /// <summary>Istio's default timeout for a JWKS fetch (the rule's <c>timeout</c> overrides it).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    // A JWKS is a few keys; a larger answer is not one (and must not fill the control plane's memory).
    private const int MaxDocumentBytes = 512 * 1024;

    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Fetch> _fetches = new(StringComparer.Ordinal);
    private ImmutableDictionary<string, string> _documents = ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);

    public JwksResolver(ILogger<JwksResolver> log, TimeProvider? time = null, HttpMessageHandler? handler = null, TimeSpan? refreshInterval = null)
    {
        _log = log;
        _time = time ?? TimeProvider.System;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
        RefreshInterval = refreshInterval ?? TimeSpan.FromMinutes(20);
    }

    public TimeSpan RefreshInterval { get; }

    /// <summary>Raised after a fetch brings a document that differs from the one held.</summary>
    public event Action? Changed;

    /// <summary>The documents in hand, by URI.</summary>
    public IReadOnlyDictionary<string, string> Documents => Volatile.Read(ref _documents);

    /// <summary>
    /// <paramref name="state"/> with the documents in hand for the compiler; starts fetching every URI its
    /// RequestAuthentications name that is not fetched yet.
    /// </summary>
    public MeshState Attach(MeshState state)
    {
        var wanted = state.Store.List(ResourceKinds.IstioSecurity, "RequestAuthentication")
            .Select(o => o.Resource.Spec).OfType<RequestAuthenticationSpec>()
            .SelectMany(s => s.JwtRules)
            .Where(r => r.Jwks is null && r.JwksUri is not null && Uri.TryCreate(r.JwksUri, UriKind.Absolute, out _));
        lock (_gate)
        {
            foreach (var rule in wanted)
            {
                if (!_fetches.ContainsKey(rule.JwksUri!))
                {
                    var timeout = rule.Timeout is not null && Trellis.Api.Durations.TryParse(rule.Timeout, out var t) && t > TimeSpan.Zero ? t : DefaultTimeout;
                    var fetch = new Fetch(rule.JwksUri!, timeout);
                    _fetches.Add(fetch.Uri, fetch);
                    fetch.Loop = FollowAsync(fetch);
                }
            }
        }

        return state with { Jwks = Documents };
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Task[] loops;
        lock (_gate)
        {
            loops = [.. _fetches.Values.Select(f => f.Loop!)];
        }

        await Task.WhenAll(loops);
        _http.Dispose();
        _stop.Dispose();
    }

    /// <summary>Fetches <paramref name="fetch"/> now, then at each refresh; after a failure, sooner (1 s doubling to the refresh interval).</summary>
    private async Task FollowAsync(Fetch fetch)
    {
        await Task.Yield();
        var backoff = TimeSpan.FromSeconds(1);
        try
        {
            while (true)
            {
                var document = await FetchAsync(fetch);
                TimeSpan wait;
                if (document is not null)
                {
                    backoff = TimeSpan.FromSeconds(1);
                    wait = RefreshInterval;
                    if (!Documents.TryGetValue(fetch.Uri, out var held) || held != document)
                    {
                        ImmutableInterlocked.Update(ref _documents, d => d.SetItem(fetch.Uri, document));
                        LogFetched(_log, fetch.Uri);
                        Changed?.Invoke();
                    }
                }
                else
                {
                    wait = backoff < RefreshInterval ? backoff : RefreshInterval;
                    backoff *= 2;
                }

                await Task.Delay(wait, _time, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>The document at the URI when it is a JWKS; null (logged) when it cannot be had.</summary>
    private async Task<string?> FetchAsync(Fetch fetch)
    {
        using var deadline = new CancellationTokenSource(fetch.Timeout, _time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, deadline.Token);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, fetch.Uri);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogFailed(_log, fetch.Uri, $"status {(int)response.StatusCode}");
                return null;
            }

            if (response.Content.Headers.ContentLength > MaxDocumentBytes)
            {
                LogFailed(_log, fetch.Uri, "the document is too large");
                return null;
            }

            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            if ((text.Length > MaxDocumentBytes ? "the document is too large" : JwksDocument.Check(text)) is { } problem)
            {
                LogFailed(_log, fetch.Uri, problem);
                return null;
            }

            return text;
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            LogFailed(_log, fetch.Uri, $"no answer within {fetch.Timeout.TotalSeconds:0.###} s");
            return null;
        }
        catch (HttpRequestException e)
        {
            LogFailed(_log, fetch.Uri, e.Message);
            return null;
        }
    }

    private sealed class Fetch(string uri, TimeSpan timeout)
    {
        public string Uri { get; } = uri;

        public TimeSpan Timeout { get; } = timeout;

        public Task? Loop { get; set; }
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "JWKS fetched from {Uri}")]
    private static partial void LogFetched(ILogger log, string uri);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "JWKS from {Uri} could not be fetched: {Reason}; tokens of its issuer are refused until it is")]
    private static partial void LogFailed(ILogger log, string uri, string reason);
}

using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Jwks;
using Trellis.ControlPlane.Store;
using Trellis.Runtime.Tests;

namespace Trellis.ControlPlane.Tests.Jwks;

/// <summary>The control plane's JWKS fetcher: fetch on first use, refresh, backoff, last good kept, bad answers refused.</summary>
public sealed class JwksResolverTests
{
    private const string Uri = "http://127.0.0.1:1/jwks";
    private const string KeysA = """{"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":"x","y":"y"}]}""";
    private const string KeysB = """{"keys":[{"kty":"EC","kid":"b","crv":"P-256","x":"x","y":"y"}]}""";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static MeshState State(string rule = $"jwksUri: {Uri}")
    {
        var resource = TestResources.One($$"""
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: default}
            spec:
              jwtRules:
              - issuer: https://issuer.test
                {{rule}}
            """);
        var objects = ImmutableDictionary<ResourceKey, StoredResource>.Empty.Add(resource.Key, new StoredResource(resource, 1));
        return new MeshState(1, new StoreSnapshot(1, objects), []);
    }

    [Fact]
    public async Task Attach_FirstUse_FetchesOnceAndRaisesChanged()
    {
        var server = new ScriptedJwks(Answer(KeysA));
        var time = new ManualTimeProvider();
        await using var resolver = new JwksResolver(NullLogger<JwksResolver>.Instance, time, server);
        var changed = 0;
        resolver.Changed += () => Interlocked.Increment(ref changed);

        resolver.Attach(State());
        await Until(() => Volatile.Read(ref changed) == 1);
        resolver.Attach(State());

        Assert.Equal(KeysA, resolver.Attach(State()).Jwks[Uri]);
        Assert.Equal(1, server.Requests);
    }

    [Fact]
    public async Task Attach_InlineJwks_NothingFetched()
    {
        var server = new ScriptedJwks(Answer(KeysA));
        await using var resolver = new JwksResolver(NullLogger<JwksResolver>.Instance, new ManualTimeProvider(), server);

        var state = resolver.Attach(State($"jwks: '{KeysA}'\n    jwksUri: {Uri}"));

        Assert.Empty(state.Jwks);
        Assert.Equal(0, server.Requests);
    }

    [Fact]
    public async Task Fetch_Failing_RetriedWithBackoffUntilItAnswers()
    {
        var server = new ScriptedJwks(Answer(KeysA, HttpStatusCode.ServiceUnavailable), Answer("not json"), Answer("""{"keys":[]}"""), Answer(KeysA));
        var time = new ManualTimeProvider();
        await using var resolver = new JwksResolver(NullLogger<JwksResolver>.Instance, time, server);

        resolver.Attach(State());
        await Until(() => server.Requests == 1 && Pending(time, TimeSpan.FromSeconds(1)));
        time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => server.Requests == 2 && Pending(time, TimeSpan.FromSeconds(2))); // doubling
        time.Advance(TimeSpan.FromSeconds(2));
        await Until(() => server.Requests == 3 && Pending(time, TimeSpan.FromSeconds(4)));
        Assert.Empty(resolver.Documents); // neither an error page nor an empty set is a JWKS
        time.Advance(TimeSpan.FromSeconds(4));
        await Until(() => resolver.Documents.Count == 1);

        Assert.Equal(KeysA, resolver.Documents[Uri]);
    }

    [Fact]
    public async Task Refresh_NewKeysReplaceOld_AFailedRefreshKeepsTheLastGood()
    {
        var server = new ScriptedJwks(Answer(KeysA), Answer(KeysB), Answer("", HttpStatusCode.InternalServerError));
        var time = new ManualTimeProvider();
        await using var resolver = new JwksResolver(NullLogger<JwksResolver>.Instance, time, server, TimeSpan.FromMinutes(20));

        resolver.Attach(State());
        await Until(() => resolver.Documents.Count == 1 && Pending(time, TimeSpan.FromMinutes(20)));
        time.Advance(TimeSpan.FromMinutes(20));
        await Until(() => resolver.Documents[Uri] == KeysB && Pending(time, TimeSpan.FromMinutes(20)));
        time.Advance(TimeSpan.FromMinutes(20));
        await Until(() => server.Requests == 3 && Pending(time, TimeSpan.FromSeconds(1))); // failed: retried soon

        Assert.Equal(KeysB, resolver.Documents[Uri]);
    }

    [Fact]
    public async Task Fetch_NoAnswerWithinTheRuleTimeout_Failed()
    {
        var server = new ScriptedJwks(Silent);
        var time = new ManualTimeProvider();
        await using var resolver = new JwksResolver(NullLogger<JwksResolver>.Instance, time, server);

        resolver.Attach(State($"jwksUri: {Uri}\n    timeout: 2s"));
        await Until(() => server.Requests == 1 && Pending(time, TimeSpan.FromSeconds(2))); // the rule's timeout
        time.Advance(TimeSpan.FromSeconds(2));
        await Until(() => Pending(time, TimeSpan.FromSeconds(1))); // the retry's backoff

        Assert.Empty(resolver.Documents);
    }

    private static bool Pending(ManualTimeProvider time, TimeSpan delay) => time.PendingDelays().SequenceEqual([delay]);

    private static Func<CancellationToken, Task<HttpResponseMessage>> Answer(string body, HttpStatusCode status = HttpStatusCode.OK) =>
        _ => Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body) });

    private static async Task<HttpResponseMessage> Silent(CancellationToken token)
    {
        await Task.Delay(Timeout.Infinite, token);
        throw new InvalidOperationException("unreachable");
    }

    private static async Task Until(Func<bool> condition)
    {
        var until = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "condition not met in time");
            await Task.Delay(5);
        }
    }

    /// <summary>A JWKS endpoint answering from a script, one answer per request (the last repeats).</summary>
    private sealed class ScriptedJwks(params Func<CancellationToken, Task<HttpResponseMessage>>[] answers) : HttpMessageHandler
    {
        private readonly ConcurrentQueue<Func<CancellationToken, Task<HttpResponseMessage>>> _answers = new(answers);
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var answer = _answers.Count > 1 && _answers.TryDequeue(out var next) ? next : _answers.TryPeek(out var last) ? last : throw new InvalidOperationException();
            Interlocked.Increment(ref _requests);
            return answer(cancellationToken);
        }
    }
}

using Trellis.Api.Snapshots;
using Trellis.Proxy.Resilience;

namespace Trellis.Proxy.Tests.Resilience;

public sealed class RetryPolicyTests
{
    // Istio's default policy when a VirtualService writes no retries (the compiler writes it out explicitly).
    private static readonly RetryConfig IstioDefault = new(
        2,
        RetryOn: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"],
        RetriableStatusCodes: [503],
        RetryOnExplicit: false);

    // One row: the conditions, the outcome, and what Envoy decides for an idempotent request with a kept body.
    public static TheoryData<string, string, bool> Conditions() => new()
    {
        // 5xx: every 5xx answer and every local failure.
        { "5xx", "500", true },
        { "5xx", "503", true },
        { "5xx", "599", true },
        { "5xx", "499", false },
        { "5xx", "200", false },
        { "5xx", "connect-failure", true },
        { "5xx", "reset", true },
        { "5xx", "reset-before-request", true },
        { "5xx", "refused-stream", true },
        { "5xx", "per-try-timeout", true },
        // gateway-error: 502, 503, 504 only, and every local failure.
        { "gateway-error", "502", true },
        { "gateway-error", "503", true },
        { "gateway-error", "504", true },
        { "gateway-error", "500", false },
        { "gateway-error", "501", false },
        { "gateway-error", "connect-failure", true },
        { "gateway-error", "per-try-timeout", true },
        // reset: no response head at all, whatever the reason.
        { "reset", "reset", true },
        { "reset", "connect-failure", true },
        { "reset", "refused-stream", true },
        { "reset", "per-try-timeout", true },
        { "reset", "503", false },
        // connect-failure and refused-stream: only their own failure.
        { "connect-failure", "connect-failure", true },
        { "connect-failure", "reset", false },
        { "connect-failure", "per-try-timeout", false },
        { "connect-failure", "503", false },
        { "refused-stream", "refused-stream", true },
        { "refused-stream", "reset", false },
        { "refused-stream", "connect-failure", false },
        // retriable-4xx: 409 only.
        { "retriable-4xx", "409", true },
        { "retriable-4xx", "400", false },
        { "retriable-4xx", "429", false },
        { "retriable-4xx", "reset", false },
        // gRPC conditions read grpc-status in the head, whatever the HTTP status.
        { "cancelled", "200 grpc 1", true },
        { "deadline-exceeded", "200 grpc 4", true },
        { "resource-exhausted", "200 grpc 8", true },
        { "internal", "200 grpc 13", true },
        { "unavailable", "200 grpc 14", true },
        { "unavailable", "503 grpc 14", true },
        { "unavailable", "200 grpc 13", false },
        { "unavailable", "200", false },
        { "unavailable", "503", false },
        { "unavailable", "reset", false },
        { "cancelled", "200 grpc 0", false },
        // Several conditions: any one is enough.
        { "connect-failure,5xx", "502", true },
        { "retriable-4xx,unavailable", "409", true },
        { "retriable-4xx,unavailable", "200 grpc 14", true },
        // An upstream Envoy's rate limit is never retried.
        { "5xx", "503 ratelimited", false },
        { "retriable-4xx", "409 ratelimited", false },
        // No conditions: nothing is retried.
        { "", "503", false },
        { "", "connect-failure", false },
    };

    [Theory]
    [MemberData(nameof(Conditions))]
    public void Decide_EnvoyConditions_RetryOrDone(string retryOn, string outcome, bool retried)
    {
        var policy = new RetryPolicy(new RetryConfig(3, RetryOn: retryOn.Split(',', StringSplitOptions.RemoveEmptyEntries)));
        var attempt = Outcome(outcome);

        var decision = policy.Decide(attempt, "GET", bodyReplayable: true, retriesSoFar: 0, reachedUpstream: attempt.MayHaveReachedUpstream);

        Assert.Equal(retried ? RetryDecision.Retry : RetryDecision.Done, decision);
    }

    [Theory]
    [InlineData("503", true)]
    [InlineData("504", true)]
    [InlineData("500", false)]
    [InlineData("200", false)]
    public void Decide_RetriableStatusCodes_OnlyTheListedOnes(string outcome, bool retried)
    {
        var policy = new RetryPolicy(new RetryConfig(1, RetryOn: ["retriable-status-codes"], RetriableStatusCodes: [503, 504]));

        Assert.Equal(retried ? RetryDecision.Retry : RetryDecision.Done, policy.Decide(Outcome(outcome), "GET", true, 0, true));
    }

    [Fact]
    public void Decide_StatusCodesWithoutTheConditionName_StillApply()
    {
        // Istio adds retriable-status-codes itself when retryOn holds numbers.
        var policy = new RetryPolicy(new RetryConfig(1, RetryOn: ["connect-failure"], RetriableStatusCodes: [503]));

        Assert.Equal(RetryDecision.Retry, policy.Decide(Outcome("503"), "GET", true, 0, true));
    }

    [Theory]
    [InlineData("x-retry-me", "x-retry-me", true)]
    [InlineData("x-retry-me", "X-Retry-Me", true)]
    [InlineData("x-other, x-retry-me", "x-retry-me", true)]
    [InlineData(" x-retry-me ,", "x-retry-me", true)]
    [InlineData("x-other", "x-retry-me", false)]
    [InlineData("", "x-retry-me", false)]
    public void Decide_RetriableHeaders_NamedByTheRequest(string requestNames, string responseField, bool retried)
    {
        var policy = new RetryPolicy(new RetryConfig(1, RetryOn: ["retriable-headers"]));
        var outcome = AttemptOutcome.Response(200, headers: new Fields(responseField));

        var decision = policy.Decide(outcome, "GET", true, 0, true, requestNames);

        Assert.Equal(retried ? RetryDecision.Retry : RetryDecision.Done, decision);
    }

    // The idempotency rule: method, body kept or not, whether the conditions were written, whether the upstream
    // may have seen the request, and the decision.
    public static TheoryData<string, bool, bool, string, string> Idempotency() => new()
    {
        // Istio's default conditions: POST/PATCH are retried only while no attempt reached the upstream.
        { "POST", true, false, "connect-failure", "Retry" },
        { "POST", true, false, "refused-stream", "Retry" },
        { "POST", true, false, "503", "NotReplayable" },
        { "PATCH", true, false, "503", "NotReplayable" },
        { "PATCH", true, false, "connect-failure", "Retry" },
        { "GET", true, false, "503", "Retry" },
        { "PUT", true, false, "503", "Retry" },
        { "DELETE", true, false, "503", "Retry" },
        { "CONNECT", true, false, "503", "NotReplayable" },
        { "PROPFIND", true, false, "503", "NotReplayable" },
        // Conditions the user wrote apply to every method.
        { "POST", true, true, "503", "Retry" },
        { "PATCH", true, true, "503", "Retry" },
        // A body that was not kept can go again only if it was never sent, explicit or not.
        { "PUT", false, true, "503", "NotReplayable" },
        { "GET", false, false, "503", "NotReplayable" },
        { "PUT", false, true, "connect-failure", "Retry" },
        { "POST", false, false, "refused-stream", "Retry" },
        // A failure no condition names is Done, not NotReplayable.
        { "POST", true, false, "500", "Done" },
    };

    [Theory]
    [MemberData(nameof(Idempotency))]
    public void Decide_IdempotencyRule_RetriesOnlyWhatMaySafelyGoAgain(
        string method, bool bodyReplayable, bool explicitConditions, string outcome, string expected)
    {
        var policy = new RetryPolicy(IstioDefault with { RetryOnExplicit = explicitConditions });
        var attempt = Outcome(outcome);

        Assert.Equal(Enum.Parse<RetryDecision>(expected), policy.Decide(attempt, method, bodyReplayable, 0, attempt.MayHaveReachedUpstream));
    }

    [Fact]
    public void Decide_EarlierAttemptReachedUpstream_PostNotRetriedAfterLaterConnectFailure()
    {
        // Once any earlier attempt may have been processed (it timed out after sending, say), a later connect
        // failure does not make a POST safe to send again.
        var policy = new RetryPolicy(IstioDefault);

        Assert.Equal(RetryDecision.NotReplayable, policy.Decide(Outcome("connect-failure"), "POST", true, 1, reachedUpstream: true));
        Assert.Equal(RetryDecision.Retry, policy.Decide(Outcome("connect-failure"), "POST", true, 1, reachedUpstream: false));
    }

    [Theory]
    [InlineData(2, 0, "Retry")]
    [InlineData(2, 1, "Retry")]
    [InlineData(2, 2, "LimitReached")]
    [InlineData(0, 0, "LimitReached")]
    public void Decide_Attempts_LimitReachedAfterTheLastRetry(int attempts, int retriesSoFar, string expected)
    {
        var policy = new RetryPolicy(new RetryConfig(attempts, RetryOn: ["5xx"]));

        Assert.Equal(Enum.Parse<RetryDecision>(expected), policy.Decide(Outcome("503"), "GET", true, retriesSoFar, true));
    }

    [Fact]
    public void Decide_Success_DoneEvenWithNoAttemptsLeft() =>
        Assert.Equal(RetryDecision.Done, new RetryPolicy(new RetryConfig(0, RetryOn: ["5xx"])).Decide(Outcome("200"), "GET", true, 0, true));

    [Fact]
    public void Decide_SuccessfulAnswer_LooksUpNoField()
    {
        var policy = new RetryPolicy(new RetryConfig(1, RetryOn: ["5xx", "retriable-4xx"]));
        var fields = new Fields();

        policy.Decide(AttemptOutcome.Response(200, headers: fields), "GET", true, 0, true);

        Assert.Equal(0, fields.Lookups);
    }

    [Theory]
    [InlineData(1, null, 1)]
    [InlineData(3, 2.5, 3)]
    [InlineData(-1, 0.0, 0)]
    public void Constructor_Config_ExposesAttemptsAndPerTryTimeout(int attempts, double? perTrySeconds, int expectedRetries)
    {
        var policy = new RetryPolicy(new RetryConfig(attempts, perTrySeconds is { } s ? TimeSpan.FromSeconds(s) : null));

        Assert.Equal(expectedRetries, policy.MaxRetries);
        Assert.Equal(perTrySeconds is > 0 ? TimeSpan.FromSeconds(perTrySeconds.Value) : null, policy.PerTryTimeout);
    }

    [Theory]
    [InlineData("14", 14)]
    [InlineData(" 4 ", 4)]
    [InlineData("0", 0)]
    [InlineData("", -1)]
    [InlineData("abc", -1)]
    [InlineData("-1", -1)]
    [InlineData("1x", -1)]
    [InlineData("12345678901", -1)]
    public void ParseGrpcStatus_Values_DigitsOrMinusOne(string value, int expected)
    {
        Assert.Equal(expected, AttemptOutcome.ParseGrpcStatus(value.AsSpan()));
        Assert.Equal(expected, AttemptOutcome.ParseGrpcStatus<byte>(System.Text.Encoding.ASCII.GetBytes(value)));
    }

    [Fact]
    public void Failed_None_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AttemptOutcome.Failed(AttemptFailure.None));

    // "503", "200 grpc 14", "409 ratelimited", or a failure name.
    internal static AttemptOutcome Outcome(string text)
    {
        switch (text)
        {
            case "connect-failure": return AttemptOutcome.Failed(AttemptFailure.ConnectFailure);
            case "reset": return AttemptOutcome.Failed(AttemptFailure.Reset);
            case "reset-before-request": return AttemptOutcome.Failed(AttemptFailure.ResetBeforeRequest);
            case "refused-stream": return AttemptOutcome.Failed(AttemptFailure.RefusedStream);
            case "per-try-timeout": return AttemptOutcome.Failed(AttemptFailure.PerTryTimeout);
        }

        var parts = text.Split(' ');
        var status = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        var grpc = parts.Length > 2 && parts[1] == "grpc" ? int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) : -1;
        var fields = parts.Contains("ratelimited") ? new Fields("x-envoy-ratelimited") : new Fields();
        return AttemptOutcome.Response(status, grpc, fields);
    }

    internal sealed class Fields(params string[] names) : IResponseHeaderLookup
    {
        public int Lookups { get; private set; }

        public bool Contains(ReadOnlySpan<char> name)
        {
            Lookups++;
            foreach (var field in names)
            {
                if (name.Equals(field, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }
    }
}

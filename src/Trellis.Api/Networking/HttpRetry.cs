namespace Trellis.Api.Networking;

/// <summary>Retry policy of an HTTP route.</summary>
public sealed record HttpRetry
{
    public int? Attempts { get; init; }

    public string? PerTryTimeout { get; init; }

    /// <summary>Comma-separated Envoy retry conditions (<c>5xx</c>, <c>gateway-error</c>, <c>connect-failure</c>, status codes…).</summary>
    public string? RetryOn { get; init; }

    public bool? RetryRemoteLocalities { get; init; }

    public bool? RetryIgnorePreviousHosts { get; init; }

    public string? Backoff { get; init; }
}

/// <summary>Faults injected into matching requests.</summary>
public sealed record HttpFaultInjection
{
    public FaultDelay? Delay { get; init; }

    public FaultAbort? Abort { get; init; }
}

public sealed record FaultDelay
{
    public string? FixedDelay { get; init; }

    public Percent? Percentage { get; init; }

    /// <summary>Deprecated integer percentage; <see cref="Percentage"/> wins when both are set.</summary>
    public int? Percent { get; init; }
}

public sealed record FaultAbort
{
    public int? HttpStatus { get; init; }

    public string? GrpcStatus { get; init; }

    public string? Http2Error { get; init; }

    public Percent? Percentage { get; init; }
}

public sealed record HttpMirrorPolicy
{
    public required Destination Destination { get; init; }

    public Percent? Percentage { get; init; }
}

namespace Trellis.Api.Workloads;

/// <summary>A health check: exactly one of <see cref="HttpGet"/>, <see cref="TcpSocket"/>, <see cref="Exec"/>, <see cref="Grpc"/>.</summary>
public sealed record Probe
{
    public HttpGetAction? HttpGet { get; init; }

    public TcpSocketAction? TcpSocket { get; init; }

    public ExecAction? Exec { get; init; }

    public GrpcAction? Grpc { get; init; }

    public int? InitialDelaySeconds { get; init; }

    public int? PeriodSeconds { get; init; }

    public int? TimeoutSeconds { get; init; }

    public int? SuccessThreshold { get; init; }

    public int? FailureThreshold { get; init; }

    public long? TerminationGracePeriodSeconds { get; init; }
}

public sealed record HttpGetAction
{
    public string? Path { get; init; }

    /// <summary>Port number or the name of a container port.</summary>
    public required IntOrString Port { get; init; }

    public string? Host { get; init; }

    /// <summary>HTTP (default) or HTTPS.</summary>
    public string? Scheme { get; init; }

    public IReadOnlyList<ProbeHeader> HttpHeaders { get; init; } = [];
}

public sealed record ProbeHeader
{
    public required string Name { get; init; }

    public required string Value { get; init; }
}

public sealed record TcpSocketAction
{
    public required IntOrString Port { get; init; }

    public string? Host { get; init; }
}

public sealed record ExecAction
{
    public IReadOnlyList<string> Command { get; init; } = [];
}

public sealed record GrpcAction
{
    public required int Port { get; init; }

    public string? Service { get; init; }
}

namespace Trellis.Api.Networking;

/// <summary>Conditions AND-ed together for one match of an <see cref="HttpRoute"/>.</summary>
public sealed record HttpMatchRequest
{
    public string? Name { get; init; }

    public StringMatch? Uri { get; init; }

    public StringMatch? Scheme { get; init; }

    public StringMatch? Method { get; init; }

    public StringMatch? Authority { get; init; }

    /// <summary>Header name (lowercase) → match; an empty <see cref="StringMatch"/> means "present".</summary>
    public IReadOnlyDictionary<string, StringMatch> Headers { get; init; } = new Dictionary<string, StringMatch>();

    public int? Port { get; init; }

    public IReadOnlyDictionary<string, string> SourceLabels { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> Gateways { get; init; } = [];

    public IReadOnlyDictionary<string, StringMatch> QueryParams { get; init; } = new Dictionary<string, StringMatch>();

    public bool? IgnoreUriCase { get; init; }

    public IReadOnlyDictionary<string, StringMatch> WithoutHeaders { get; init; } = new Dictionary<string, StringMatch>();

    public string? SourceNamespace { get; init; }

    public string? StatPrefix { get; init; }
}

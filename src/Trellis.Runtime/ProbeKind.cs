namespace Trellis.Runtime;

/// <summary>How a readiness probe checks an instance.</summary>
public enum ProbeKind
{
    /// <summary>Ready when a TCP connection to the app port succeeds.</summary>
    Tcp,

    /// <summary>Ready when GET on the path answers 2xx or 3xx.</summary>
    Http,
}

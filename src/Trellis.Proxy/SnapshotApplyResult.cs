namespace Trellis.Proxy;

/// <summary>The ACK (<paramref name="Accepted"/>) or NACK (with every error found) of one snapshot.</summary>
public sealed record SnapshotApplyResult(bool Accepted, IReadOnlyList<string> Errors)
{
    internal static readonly SnapshotApplyResult Ack = new(true, []);
}

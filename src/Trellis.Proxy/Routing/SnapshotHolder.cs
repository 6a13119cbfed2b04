namespace Trellis.Proxy.Routing;

/// <summary>
/// The one mutable reference of the data path. Requests read it once (Volatile) and keep the
/// compiled snapshot they got for their whole life, so a swap never changes a request midway.
/// </summary>
internal sealed class SnapshotHolder
{
    private CompiledSnapshot _current = CompiledSnapshot.Empty;

    public CompiledSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Installs <paramref name="next"/> and returns what it replaced.</summary>
    public CompiledSnapshot Swap(CompiledSnapshot next) => Interlocked.Exchange(ref _current, next);
}

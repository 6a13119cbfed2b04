using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Trellis.Api;

namespace Trellis.ControlPlane.Store;

/// <summary>
/// The watch side shared by every store: the recent history of committed events (the last
/// <see cref="HistoryLimit"/>, so a watcher that resumes from a recent revision gets what it missed)
/// and the live watchers, fed in commit order. A watcher that asks for a revision older than the
/// history gets <see cref="WatchExpiredException"/> and must list again, as a Kubernetes watch does.
/// </summary>
internal sealed class WatchFeed
{
    internal const int HistoryLimit = 10_000;

    private readonly List<WatchEvent> _history = [];
    private readonly List<Channel<WatchEvent>> _watchers = [];
    private readonly object _gate = new();
    private long _historyStart;

    public WatchFeed(long startRevision) => _historyStart = startRevision;

    /// <summary>
    /// Records a committed batch and hands it to every watcher. <paramref name="beforePublish"/> runs under the
    /// same lock, so a store that swaps its snapshot there is never seen ahead of or behind its watch stream.
    /// </summary>
    public void Publish(IReadOnlyList<WatchEvent> events, Action? beforePublish = null)
    {
        lock (_gate)
        {
            beforePublish?.Invoke();
            _history.AddRange(events);
            if (_history.Count > HistoryLimit)
            {
                var drop = _history.Count - HistoryLimit;
                _historyStart = _history[drop - 1].Revision;
                _history.RemoveRange(0, drop);
            }

            foreach (var w in _watchers)
            {
                foreach (var e in events)
                {
                    w.Writer.TryWrite(e);
                }
            }
        }
    }

    /// <summary>Every event after <paramref name="afterRevision"/>: the remembered ones, then the live ones.</summary>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<WatchEvent>(new UnboundedChannelOptions { SingleReader = true });
        List<WatchEvent> backlog;
        lock (_gate)
        {
            if (afterRevision < _historyStart)
            {
                throw new WatchExpiredException(afterRevision, _historyStart);
            }

            backlog = _history.Where(e => e.Revision > afterRevision).ToList();
            _watchers.Add(channel);
        }

        try
        {
            foreach (var e in backlog)
            {
                yield return e;
            }

            await foreach (var e in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return e;
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(channel);
            }
        }
    }

    /// <summary>Ends every watch (the store is closing).</summary>
    public void Complete()
    {
        lock (_gate)
        {
            foreach (var w in _watchers)
            {
                w.Writer.TryComplete();
            }
        }
    }
}

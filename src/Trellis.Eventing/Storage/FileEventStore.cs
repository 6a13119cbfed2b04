using System.Text;

namespace Trellis.Eventing.Storage;

/// <summary>The embedded store: one <see cref="FileEventLog"/> directory per log under the data directory.</summary>
public sealed class FileEventStore(string directory) : IEventStore
{
    private readonly Dictionary<string, FileEventLog> _logs = [];
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async ValueTask<IEventLog> OpenAsync(string name, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_logs.TryGetValue(name, out var log))
            {
                _logs[name] = log = FileEventLog.Open(name, PathOf(name));
            }

            return log;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_logs.Remove(name, out var log))
            {
                await log.DisposeAsync();
            }

            if (Directory.Exists(PathOf(name)))
            {
                Directory.Delete(PathOf(name), recursive: true);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var log in _logs.Values)
        {
            await log.DisposeAsync();
        }

        _logs.Clear();
        _gate.Dispose();
    }

    /// <summary>Log names (<c>broker/default/events</c>) become one safe directory name each.</summary>
    private string PathOf(string name)
    {
        var safe = new StringBuilder();
        foreach (var c in name)
        {
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_');
        }

        return Path.Combine(directory, safe.ToString());
    }
}

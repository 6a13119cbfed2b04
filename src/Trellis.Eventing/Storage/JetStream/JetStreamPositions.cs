using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Trellis.Eventing.Storage.JetStream;

/// <summary>
/// The consumer positions of one JetStream log, in memory and in the key-value bucket (key
/// <c>{stream}.{consumer}</c>). Changes are written by <see cref="PersistAsync"/>, which the log calls
/// every 100 ms: after a crash a consumer resumes at most that far back, never further on.
/// </summary>
internal sealed class JetStreamPositions
{
    private readonly INatsKVStore _kv;
    private readonly string _stream;
    private readonly object _gate = new();
    private readonly Dictionary<string, long> _positions;
    private readonly HashSet<string> _dirty = [];
    private readonly HashSet<string> _removed = [];

    private JetStreamPositions(INatsKVStore kv, string stream, Dictionary<string, long> positions)
    {
        _kv = kv;
        _stream = stream;
        _positions = positions;
    }

    public static async Task<JetStreamPositions> LoadAsync(INatsKVStore kv, string stream, CancellationToken cancellationToken)
    {
        var positions = new Dictionary<string, long>();
        await foreach (var key in PositionKeysAsync(kv, stream, cancellationToken))
        {
            var entry = await kv.TryGetEntryAsync<string>(key, cancellationToken: cancellationToken);
            if (entry.Success && long.TryParse(entry.Value.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var position))
            {
                positions[ConsumerOf(key, stream)] = position;
            }
        }

        return new JetStreamPositions(kv, stream, positions);
    }

    /// <summary>
    /// The consumer's position, read again from the bucket unless this replica has a newer one to write
    /// (another control plane may have moved it while it led); a new consumer gets <paramref name="start"/>.
    /// </summary>
    public async Task<long> GetOrAddAsync(string consumer, long start, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_dirty.Contains(consumer))
            {
                return _positions[consumer];
            }
        }

        var entry = await _kv.TryGetEntryAsync<string>(KeyOf(_stream, consumer), cancellationToken: cancellationToken);
        if (entry.Success && long.TryParse(entry.Value.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var stored))
        {
            lock (_gate)
            {
                _positions[consumer] = Math.Max(stored, _positions.GetValueOrDefault(consumer));
            }
        }

        return GetOrAdd(consumer, start);
    }

    /// <summary>The consumer's position in memory; a new consumer gets <paramref name="start"/>, kept from now on.</summary>
    public long GetOrAdd(string consumer, long start)
    {
        lock (_gate)
        {
            if (!_positions.TryGetValue(consumer, out var position))
            {
                _positions[consumer] = position = start;
                _removed.Remove(consumer);
                _dirty.Add(consumer);
            }

            return position;
        }
    }

    /// <summary>Moves a position forward (never back).</summary>
    public void Set(string consumer, long next)
    {
        lock (_gate)
        {
            if (!_positions.TryGetValue(consumer, out var old) || next > old)
            {
                _positions[consumer] = next;
                _removed.Remove(consumer);
                _dirty.Add(consumer);
            }
        }
    }

    public void Remove(string consumer)
    {
        lock (_gate)
        {
            if (_positions.Remove(consumer))
            {
                _dirty.Remove(consumer);
                _removed.Add(consumer);
            }
        }
    }

    /// <summary>The smallest position, or null without consumers.</summary>
    public long? Oldest()
    {
        lock (_gate)
        {
            return _positions.Count == 0 ? null : _positions.Values.Min();
        }
    }

    /// <summary>Writes what changed; on failure the changes stay pending for the next call and the error is thrown.</summary>
    public async Task PersistAsync(CancellationToken cancellationToken)
    {
        List<(string Consumer, long Position)> dirty;
        List<string> removed;
        lock (_gate)
        {
            dirty = [.. _dirty.Select(c => (c, _positions[c]))];
            removed = [.. _removed];
            _dirty.Clear();
            _removed.Clear();
        }

        try
        {
            foreach (var (consumer, position) in dirty)
            {
                await _kv.PutAsync(KeyOf(_stream, consumer), position.ToString(CultureInfo.InvariantCulture), cancellationToken: cancellationToken);
            }

            foreach (var consumer in removed)
            {
                await _kv.DeleteAsync(KeyOf(_stream, consumer), cancellationToken: cancellationToken);
            }
        }
        catch (Exception e) when (e is NatsException or TimeoutException or OperationCanceledException)
        {
            lock (_gate)
            {
                _dirty.UnionWith(dirty.Select(d => d.Consumer).Where(_positions.ContainsKey));
                _removed.UnionWith(removed.Where(c => !_positions.ContainsKey(c)));
            }

            throw;
        }
    }

    /// <summary>The position keys of one stream's consumers: <c>{stream}.{consumer, escaped}</c>.</summary>
    internal static async IAsyncEnumerable<string> PositionKeysAsync(INatsKVStore kv, string stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var keys = kv.GetKeysAsync([stream + ".>"], cancellationToken: cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await keys.MoveNextAsync())
                {
                    break;
                }
            }
            catch (NatsKVException)
            {
                // An empty bucket answers "no keys" as an error in some server versions.
                break;
            }

            yield return keys.Current;
        }

        await keys.DisposeAsync();
    }

    /// <summary>
    /// Key-value keys allow <c>[-/_=.A-Za-z0-9]</c>: other characters (and <c>=</c>, the escape itself)
    /// become <c>=XX</c> per UTF-8 byte, so every consumer name has its own key.
    /// </summary>
    internal static string KeyOf(string stream, string consumer)
    {
        var key = new StringBuilder(stream).Append('.');
        foreach (var b in Encoding.UTF8.GetBytes(consumer))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '/')
            {
                key.Append(c);
            }
            else
            {
                key.Append('=').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return key.ToString();
    }

    internal static string ConsumerOf(string key, string stream)
    {
        var escaped = key[(stream.Length + 1)..];
        var bytes = new List<byte>(escaped.Length);
        for (var i = 0; i < escaped.Length; i++)
        {
            if (escaped[i] == '=' && i + 2 < escaped.Length && byte.TryParse(escaped.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.Add((byte)escaped[i]);
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }
}

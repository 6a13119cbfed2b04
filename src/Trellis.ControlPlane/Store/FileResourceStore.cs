using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Api;

namespace Trellis.ControlPlane.Store;

/// <summary>
/// The embedded store: an append-only log of committed batches in one file, replayed at open.
/// Each line is <c>checksum SP json LF</c>; a batch is acknowledged only after its line is fsynced,
/// so a crash can lose at most an unacknowledged batch, whose torn line fails its checksum and is cut
/// off at the next open. The log is compacted to one batch per open when it has grown.
/// </summary>
public sealed class FileResourceStore : IResourceStore
{
    private const int CompactAfterRecords = 500;

    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private FileStream _log;
    private readonly WatchFeed _feed;
    private volatile StoreSnapshot _snapshot;
    private ImmutableDictionary<ResourceKey, StoredResource> _objects;

    private FileResourceStore(FileStream log, ImmutableDictionary<ResourceKey, StoredResource> objects, long revision, TimeProvider time)
    {
        _log = log;
        _objects = objects;
        _time = time;
        _feed = new WatchFeed(revision);
        _snapshot = new StoreSnapshot(revision, objects);
    }

    public StoreSnapshot Snapshot => _snapshot;

    /// <summary>Opens (or creates) the store in <paramref name="directory"/>, recovering from a torn last write.</summary>
    public static FileResourceStore Open(string directory, TimeProvider? time = null)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "store.log");
        var (objects, revision, records, validLength) = Replay(path);
        if (records > CompactAfterRecords)
        {
            WriteCompacted(path, objects, revision);
        }
        else if (File.Exists(path) && new FileInfo(path).Length != validLength)
        {
            // Cut off a torn or corrupt tail so new records follow the last good one.
            using var trim = new FileStream(path, FileMode.Open, FileAccess.Write);
            trim.SetLength(validLength);
            trim.Flush(flushToDisk: true);
        }

        var log = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.None);
        return new FileResourceStore(log, objects, revision, time ?? TimeProvider.System);
    }

    public async Task<StoreWriteResult> WriteAsync(IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            var revision = _snapshot.Revision + 1;
            var outcome = BatchApplier.Apply(_objects, operations, revision, _time.GetUtcNow(), () => Guid.NewGuid().ToString());
            if (outcome.Error != StoreErrorKind.None)
            {
                return new StoreWriteResult(outcome.Error, outcome.Message, _snapshot.Revision, []);
            }

            if (outcome.Events.Count == 0)
            {
                return new StoreWriteResult(StoreErrorKind.None, null, _snapshot.Revision, outcome.Outcomes);
            }

            // Durable first: once this returns, the batch survives a crash. Not cancellable past this point.
            var line = EncodeRecord(revision, outcome.Events);
            await _log.WriteAsync(line, CancellationToken.None);
            _log.Flush(flushToDisk: true);

            _objects = outcome.Objects;
            _snapshot = new StoreSnapshot(revision, outcome.Objects);
            _feed.Publish(outcome.Events);
            return new StoreWriteResult(StoreErrorKind.None, null, revision, outcome.Outcomes);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public IAsyncEnumerable<WatchEvent> WatchAsync(long afterRevision, CancellationToken cancellationToken) =>
        _feed.WatchAsync(afterRevision, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            _feed.Complete();

            await _log.DisposeAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static byte[] EncodeRecord(long revision, IEnumerable<WatchEvent> events)
    {
        var ops = new JsonArray();
        foreach (var e in events)
        {
            ops.Add(e.Type == WatchEventType.Deleted
                ? new JsonObject { ["delete"] = KeyToJson(e.Object.Resource.Key) }
                : new JsonObject { ["put"] = ResourceWriter.ToJsonObject(e.Object.Resource) });
        }

        var json = new JsonObject { ["rev"] = revision, ["ops"] = ops }.ToJsonString();
        return Encoding.UTF8.GetBytes($"{Checksum(json)} {json}\n");
    }

    private static (ImmutableDictionary<ResourceKey, StoredResource> Objects, long Revision, int Records, long ValidLength) Replay(string path)
    {
        var objects = ImmutableDictionary.CreateBuilder<ResourceKey, StoredResource>();
        long revision = 0, validLength = 0;
        var records = 0;
        if (!File.Exists(path))
        {
            return (objects.ToImmutable(), 0, 0, 0);
        }

        var bytes = File.ReadAllBytes(path);
        var start = 0;
        while (start < bytes.Length)
        {
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0)
            {
                break; // torn last line: never acknowledged
            }

            var line = Encoding.UTF8.GetString(bytes, start, end - start);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space < 0 || Checksum(line[(space + 1)..]) != line[..space])
            {
                break;
            }

            var record = JsonNode.Parse(line[(space + 1)..])!.AsObject();
            var rev = record["rev"]!.GetValue<long>();
            foreach (var op in record["ops"]!.AsArray())
            {
                if (op!["put"] is JsonObject put)
                {
                    var resource = ParseStored(put);
                    objects[resource.Key] = new StoredResource(resource, rev);
                }
                else if (op["delete"] is JsonObject key)
                {
                    objects.Remove(KeyFromJson(key));
                }
            }

            revision = rev;
            records++;
            start = end + 1;
            validLength = start;
        }

        return (objects.ToImmutable(), revision, records, validLength);
    }

    private static void WriteCompacted(string path, ImmutableDictionary<ResourceKey, StoredResource> objects, long revision)
    {
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            var events = objects.Values.Select(o => new WatchEvent(WatchEventType.Added, o, o.ResourceVersion));
            f.Write(EncodeRecord(revision, events));
            f.Flush(flushToDisk: true);
        }

        // Each object keeps its own resourceVersion in its metadata; the record carries the store revision.
        File.Move(tmp, path, overwrite: true);
    }

    private static Resource ParseStored(JsonObject json)
    {
        var read = ResourceReader.Read(json.ToJsonString(), "store.log");
        if (read.HasErrors || read.Resources.Count != 1)
        {
            throw new InvalidDataException($"store.log holds an unreadable resource: {string.Join("; ", read.Diagnostics)}");
        }

        return read.Resources[0];
    }

    private static JsonObject KeyToJson(ResourceKey k) =>
        new() { ["group"] = k.Group, ["kind"] = k.Kind, ["namespace"] = k.Namespace, ["name"] = k.Name };

    private static ResourceKey KeyFromJson(JsonObject o) =>
        new((string)o["group"]!, (string)o["kind"]!, (string)o["namespace"]!, (string)o["name"]!);

    private static string Checksum(string json) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(json)), 0, 8);
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.Net;

namespace Trellis.Eventing.Storage.JetStream;

/// <summary>Where the JetStream store connects and how many servers keep each stream.</summary>
/// <param name="Url">The NATS servers, <c>nats://host:4222[,nats://host:4222...]</c>.</param>
/// <param name="Replicas">JetStream replicas per stream (1 for one server; 3 in a cluster of three survives a host).</param>
public sealed record JetStreamOptions(string Url, int Replicas = 1);

/// <summary>
/// The distributed store: each log is a JetStream stream (file storage, <see cref="JetStreamOptions.Replicas"/>
/// servers), and consumer positions are keys of the <see cref="PositionsBucket"/> key-value bucket, so
/// a broker's events and its Triggers' progress live on the NATS servers and outlive the host that
/// took them. An append returns once JetStream acknowledged it: stored by the stream's replicas.
/// </summary>
public sealed class JetStreamEventStore : IEventStore
{
    public const string PositionsBucket = "trellis-positions";

    private readonly NatsConnection _connection;
    private readonly INatsJSContext _js;
    private readonly INatsKVStore _positions;
    private readonly JetStreamOptions _options;
    private readonly ILogger _log;
    private readonly Dictionary<string, JetStreamEventLog> _logs = [];
    private readonly SemaphoreSlim _gate = new(1, 1);

    private JetStreamEventStore(NatsConnection connection, INatsJSContext js, INatsKVStore positions, JetStreamOptions options, ILogger log)
    {
        _connection = connection;
        _js = js;
        _positions = positions;
        _options = options;
        _log = log;
    }

    /// <summary>Connects and creates the positions bucket; fails (an <see cref="IOException"/>) when no server answers.</summary>
    public static async Task<JetStreamEventStore> ConnectAsync(JetStreamOptions options, ILogger log, CancellationToken cancellationToken = default)
    {
        var connection = new NatsConnection(new NatsOpts
        {
            Url = options.Url,
            Name = "trellis-eventing",
            MaxReconnectRetry = -1,
            RequestTimeout = TimeSpan.FromSeconds(10),
            // A loaded host can take more than the client's default 2 s to finish the handshake.
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PublishTimeoutOnDisconnected = true,
        });
        try
        {
            await connection.ConnectAsync();
            var js = connection.CreateJetStreamContext();
            var kv = new NatsKVContext(js);
            var positions = await kv.CreateOrUpdateStoreAsync(
                new NatsKVConfig(PositionsBucket) { Storage = NatsKVStorageType.File, NumberOfReplicas = options.Replicas, History = 1 },
                cancellationToken);
            return new JetStreamEventStore(connection, js, positions, options, log);
        }
        catch (Exception e) when (e is NatsException or TimeoutException)
        {
            await connection.DisposeAsync();
            throw new IOException($"JetStream at {options.Url}: {e.Message}", e);
        }
    }

    public async ValueTask<IEventLog> OpenAsync(string name, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_logs.TryGetValue(name, out var log))
            {
                _logs[name] = log = await JetStreamEventLog.OpenAsync(name, StreamName(name), _js, _positions, _options.Replicas, _log, cancellationToken);
            }

            return log;
        }
        catch (Exception e) when (e is NatsException or TimeoutException)
        {
            throw new IOException($"JetStream: opening {name}: {e.Message}", e);
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

            var stream = StreamName(name);
            await foreach (var key in JetStreamPositions.PositionKeysAsync(_positions, stream, cancellationToken))
            {
                await _positions.DeleteAsync(key, cancellationToken: cancellationToken);
            }

            try
            {
                await _js.DeleteStreamAsync(stream, cancellationToken);
            }
            catch (NatsJSApiException e) when (e.Error.Code == 404)
            {
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
        await _connection.DisposeAsync();
        _gate.Dispose();
    }

    /// <summary>
    /// A stream name for a log name (<c>broker/default/events</c>): JetStream allows no <c>.</c>, <c>/</c>,
    /// wildcards or spaces, so other characters become <c>_</c>, and a hash of the exact name keeps two
    /// names that read alike apart.
    /// </summary>
    internal static string StreamName(string name)
    {
        var safe = new StringBuilder("trellis-");
        foreach (var c in name)
        {
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' ? c : '_');
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(name));
        return safe.Append('-').Append(Convert.ToHexStringLower(hash, 0, 4)).ToString();
    }
}

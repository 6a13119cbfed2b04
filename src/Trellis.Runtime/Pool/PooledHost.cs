using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Trellis.Runtime.Pool;

/// <summary>
/// One started <c>trellis-poolhost</c> (src/Trellis.PoolHost) and the agent's end of its control
/// socket. Started like an instance (<see cref="ChildProcess"/>: own process group, output appended
/// to a log), so once specialized it is an instance's process in every respect.
/// </summary>
internal sealed class PooledHost(string id, ChildProcess process, string socketPath, string logPath)
{
    private Socket? control;

    public string Id => id;

    public ChildProcess Process => process;

    public string SocketPath => socketPath;

    public string LogPath => logPath;

    /// <summary>True once connected: the host listens only when its warm-up is done.</summary>
    public async Task<bool> TryConnectAsync(CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
            control = socket;
            return true;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return false;
        }
    }

    /// <summary>
    /// Sends the specialize request and waits for the host's answer: null when it is running the
    /// function, else why not (the caller kills the host and starts a plain process).
    /// </summary>
    public async Task<string?> SpecializeAsync(PoolLaunch launch, IReadOnlyDictionary<string, string> env, string workingDirectory, string instanceLog, CancellationToken ct)
    {
        if (control is null)
        {
            return "not connected";
        }

        try
        {
            await control.SendAsync(Request(launch, env, workingDirectory, instanceLog), SocketFlags.None, ct);
            var reply = new byte[1024];
            var length = 0;
            while (length < reply.Length && Array.IndexOf(reply, (byte)'\n', 0, length) < 0)
            {
                var read = await control.ReceiveAsync(reply.AsMemory(length), SocketFlags.None, ct);
                if (read == 0)
                {
                    return "the pool host closed the connection";
                }

                length += read;
            }

            var answer = Encoding.UTF8.GetString(reply, 0, length).Trim();
            return answer == "ok" ? null : answer;
        }
        catch (SocketException e)
        {
            return e.Message;
        }
        finally
        {
            control.Dispose();
            control = null;
        }
    }

    public void CloseControl() => control?.Dispose();

    /// <summary>The request line, as src/Trellis.PoolHost/SpecializeRequest.cs reads it.</summary>
    internal static byte[] Request(PoolLaunch launch, IReadOnlyDictionary<string, string> env, string workingDirectory, string instanceLog)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("assembly", launch.Assembly);
            json.WriteStartArray("args");
            foreach (var arg in launch.Args)
            {
                json.WriteStringValue(arg);
            }

            json.WriteEndArray();
            WriteMap(json, "env", env);
            json.WriteString("workingDirectory", workingDirectory);
            json.WriteString("logPath", instanceLog);
            WriteMap(json, "properties", launch.Properties);
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void WriteMap(Utf8JsonWriter json, string name, IReadOnlyDictionary<string, string> map)
    {
        json.WriteStartObject(name);
        foreach (var (key, value) in map)
        {
            json.WriteString(key, value);
        }

        json.WriteEndObject();
    }
}

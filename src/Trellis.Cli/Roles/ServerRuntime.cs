using System.Net;
using System.Net.Sockets;

namespace Trellis.Cli.Roles;

/// <summary>
/// Runtime settings for the roles that host proxy listeners (<c>up</c>, <c>proxy</c>, <c>agent</c>).
/// Client verbs start and exit in milliseconds, and <c>controlplane</c> carries no proxy traffic;
/// they keep the defaults.
/// <para>
/// Socket completions run inline on the epoll thread (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c>),
/// together with Kestrel's inline scheduling (<see cref="Trellis.Proxy.ProxyServerOptions.InlineScheduling"/>):
/// a proxied request then runs from socket read to upstream write without a thread-pool hop, the
/// model nginx and HAProxy use. System.Net.Sockets reads the variable from the environment the
/// first time a socket registers with its engine, not at runtime start, so setting it here, before
/// any socket exists, is enough; no re-exec is needed. The variable is then removed again so that
/// workloads the agent starts do not inherit a setting they did not ask for. A value the user
/// set is left alone (<c>=0</c> turns it off). docs/benchmarks.md, history.
/// </para>
/// <para>
/// The price: any continuation after a socket await in the process runs on an epoll thread until
/// it next waits, so code there must not block. In <c>up</c> and <c>agent</c> that includes the
/// agent's own HTTP calls and the push stream; a snapshot being applied or a process being started
/// there delays the other connections of that thread for as long as it takes.
/// </para>
/// </summary>
public static class ServerRuntime
{
    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    private static readonly HashSet<string> Roles = ["up", "proxy", "agent"];

    /// <summary>Whether socket completions run inline in this process (what the proxy's inline scheduling pairs with).</summary>
    public static bool InlineSocketCompletions { get; private set; }

    /// <summary>Applies the settings when <paramref name="args"/> start a server role. Call first, before any socket exists.</summary>
    public static void Apply(string[] args)
    {
        if (IsServerRole(args))
        {
            Apply();
        }
    }

    /// <summary>Applies the settings unconditionally: <c>trellis-proxy</c> is nothing but a server role. Call first, before any socket exists.</summary>
    public static void Apply()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var given = Environment.GetEnvironmentVariable(InlineCompletions);
        if (given is not null)
        {
            InlineSocketCompletions = given == "1";
            return;
        }

        Environment.SetEnvironmentVariable(InlineCompletions, "1");
        try
        {
            InitializeSocketEngine();
        }
        catch (SocketException)
        {
            // No IPv4 loopback to listen on: keep the variable, the first real socket reads it.
            InlineSocketCompletions = true;
            return;
        }

        Environment.SetEnvironmentVariable(InlineCompletions, null);
        InlineSocketCompletions = true;
    }

    /// <summary>The verb: the first argument that is not a global option (<c>--server URL</c>).</summary>
    public static bool IsServerRole(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--server", StringComparison.Ordinal))
            {
                i += arg.Contains('=', StringComparison.Ordinal) ? 0 : 1;
                continue;
            }

            return Roles.Contains(arg);
        }

        return false;
    }

    /// <summary>
    /// Makes System.Net.Sockets read the variable now: a pending accept registers a socket with the
    /// engine, whose static state (thread count, inline completions) is read from the environment then.
    /// </summary>
    private static void InitializeSocketEngine()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var pending = listener.AcceptAsync();
        listener.Close();
        // The accept ends with OperationAborted when the socket closes; observe it so it is not reported as unobserved.
        _ = pending.ContinueWith(static t => t.Exception, TaskScheduler.Default);
    }
}

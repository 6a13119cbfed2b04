using Microsoft.Extensions.Hosting;

namespace Trellis.Agent;

/// <summary>
/// The lifetime of a web host embedded in a Trellis role: it ignores SIGINT/SIGTERM, because the role
/// (Trellis.Cli's RoleOptions) owns shutdown and stops its parts in order. The default
/// ConsoleLifetime would also react to the signal, on the same signal thread as the role's handler:
/// it stops the host underneath the orderly shutdown and, should a stopping callback block, keeps
/// the role's own handler from ever running (a Ctrl-C that does nothing).
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

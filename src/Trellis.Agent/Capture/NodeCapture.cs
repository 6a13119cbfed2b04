using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Trellis.Api.Registry;
using Trellis.Runtime;

namespace Trellis.Agent.Capture;

/// <summary>
/// Applies <see cref="CaptureRules"/> to the agent's network namespace with <c>nft</c> (Debian's nftables, which
/// <c>scripts/capture-tools</c> installs when missing): the table when the agent starts, the inbound map whenever the
/// node's instances change their ports, and the table's removal when it stops. An agent killed with SIGKILL leaves its
/// table; the next one replaces it whole.
/// </summary>
internal sealed partial class NodeCapture : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IReadOnlyDictionary<int, int> _inbound = new Dictionary<int, int>();
    private bool _removed;

    private NodeCapture(ILogger log) => _log = log;

    /// <summary>Installs the rules; throws <see cref="IOException"/> with nft's own words when they cannot be (no nft, no CAP_NET_ADMIN): nothing is installed then.</summary>
    public static async Task<NodeCapture> InstallAsync(int capturePort, int mark, ILogger log, CancellationToken token)
    {
        var error = await NftAsync(CaptureRules.Install(capturePort, mark, new Dictionary<int, int>()), token);
        if (error is not null)
        {
            throw new IOException($"--capture: installing the nftables rules failed: {error}");
        }

        LogInstalled(log, CaptureRules.Table, capturePort);
        return new NodeCapture(log);
    }

    /// <summary>Follows the instances (<see cref="Supervisor.Changed"/>): their workload ports lead to their inbound listeners.</summary>
    public void OnInstancesChanged(IReadOnlyList<InstanceStatus> instances)
    {
        var inbound = new Dictionary<int, int>();
        foreach (var i in instances)
        {
            if (i.Port > 0 && i.Ports.TryGetValue(WorkloadInstance.InboundPort, out var listener))
            {
                inbound[i.Port] = listener;
            }
        }

        _ = UpdateAsync(inbound);
    }

    private async Task UpdateAsync(Dictionary<int, int> inbound)
    {
        await _gate.WaitAsync();
        try
        {
            if (_removed || (inbound.Count == _inbound.Count && inbound.All(p => _inbound.TryGetValue(p.Key, out var v) && v == p.Value)))
            {
                return;
            }

            if (await NftAsync(CaptureRules.Inbound(inbound), CancellationToken.None) is { } error)
            {
                LogUpdateFailed(_log, error);
                return;
            }

            _inbound = inbound;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _removed = true;
            if (await NftAsync(CaptureRules.Remove(), CancellationToken.None) is { } error)
            {
                LogUpdateFailed(_log, error);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs <c>nft -f -</c> with the script on its input; null when it succeeded, else what nft said.</summary>
    private static async Task<string?> NftAsync(string script, CancellationToken token)
    {
        var info = new ProcessStartInfo("nft") { RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-f");
        info.ArgumentList.Add("-");
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"nft cannot be run ({e.Message}): install nftables (scripts/capture-tools)";
        }

        using (process)
        {
            await process.StandardInput.WriteAsync(script);
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEndAsync(token);
            await process.StandardOutput.ReadToEndAsync(token);
            await process.WaitForExitAsync(token);
            return process.ExitCode == 0 ? null : (await stderr).Trim();
        }
    }

    [LoggerMessage(EventId = 4401, Level = LogLevel.Information, Message = "Capturing the node's TCP: nftables table {Table}, outbound to the capture listener on port {Port}")]
    private static partial void LogInstalled(ILogger log, string table, int port);

    [LoggerMessage(EventId = 4402, Level = LogLevel.Warning, Message = "Capture rules: nft failed: {Error}")]
    private static partial void LogUpdateFailed(ILogger log, string error);
}

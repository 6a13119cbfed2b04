using System.Diagnostics;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>
/// <c>promtool check metrics</c> (Debian package prometheus; ./scripts/test installs it) over an exposition. Istio's own
/// metric name <c>istio_request_duration_milliseconds</c> draws promtool's one lint finding about non-base units
/// (Istio's dashboards need the name as it is: docs/telemetry.md); anything else it says is a failure.
/// </summary>
internal static class Promtool
{
    public const string IstioUnitFinding = "istio_request_duration_milliseconds use base unit \"seconds\" instead of \"milliseconds\"";

    /// <summary>What promtool found, beyond the one expected finding; empty when the exposition passes.</summary>
    public static async Task<IReadOnlyList<string>> ProblemsAsync(string exposition)
    {
        var start = new ProcessStartInfo("promtool", ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var promtool = Process.Start(start)!;
        await promtool.StandardInput.WriteAsync(exposition);
        promtool.StandardInput.Close();
        var output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        var problems = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line != IstioUnitFinding)
            .ToList();
        // Exit 3 is "lint findings"; with only the expected one left out, there must be nothing else.
        if (promtool.ExitCode is not (0 or 3) && problems.Count == 0)
        {
            problems.Add($"promtool exited {promtool.ExitCode}");
        }

        return problems;
    }
}

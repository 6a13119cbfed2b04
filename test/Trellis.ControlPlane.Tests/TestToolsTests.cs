namespace Trellis.ControlPlane.Tests;

/// <summary>
/// The tools ./scripts/test installs for these tests (promtool from Debian's prometheus, etcd from etcd-server)
/// come with daemons; the test command must leave none of them enabled at boot (issue 17). Enabling is a
/// symlink in a <c>*.wants</c> folder, written by the package's postinst whether systemd runs or not.
/// </summary>
public sealed class TestToolsTests
{
    [Theory]
    [InlineData("prometheus", "prometheus.service")]
    [InlineData("etcd-server", "etcd.service")]
    public void InstalledTestTool_DaemonNotEnabledAtBoot(string package, string unit)
    {
        if (!File.Exists(Path.Combine("/var/lib/dpkg/info", package + ".list")))
        {
            return; // not installed here (a machine without Debian packages, or tests run without ./scripts/test)
        }

        var enabled = Directory.Exists("/etc/systemd/system")
            ? Directory.EnumerateDirectories("/etc/systemd/system", "*.wants").Select(d => Path.Combine(d, unit)).Where(p => File.Exists(p) || new FileInfo(p).LinkTarget is not null).ToList()
            : [];

        Assert.True(enabled.Count == 0, $"{package} (installed by ./scripts/test) left {unit} enabled at boot: {string.Join(", ", enabled)}");
    }
}

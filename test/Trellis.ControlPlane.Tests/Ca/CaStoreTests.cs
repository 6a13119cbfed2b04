using Trellis.ControlPlane.Ca;
using static Trellis.ControlPlane.Tests.Ca.CaTestCertificates;

namespace Trellis.ControlPlane.Tests.Ca;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CaStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-ca-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        foreach (var dir in new[] { _dir, _dir + ".next", _dir + ".old" }.Where(Directory.Exists))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Open_AfterAnInterruptedReplace_TheCompleteNewSetWins_APartialOneIsDiscarded()
    {
        var time = new FixedClock(Now);
        using var _ = CaStore.Open(null, _dir, "cluster.local", time).Material;
        using var replacement = CertificateAuthority.CreateSelfSigned("cluster.local", Now);

        // A crash after the old set was moved away: the new set was complete, so it is the CA now.
        CaStore.Write(_dir + ".next", replacement.ToFiles());
        Directory.Move(_dir, _dir + ".old");
        using (var recovered = CaStore.Open(null, _dir, "cluster.local", time).Material)
        {
            Assert.Equal(replacement.RootFingerprint, recovered!.RootFingerprint);
            Assert.False(Directory.Exists(_dir + ".old"));
        }

        // A crash while the next set was being written: the CA in place stays, the partial set is removed.
        Directory.CreateDirectory(_dir + ".next");
        File.WriteAllText(Path.Combine(_dir + ".next", "ca-cert.pem"), "partial");
        using (var kept = CaStore.Open(null, _dir, "cluster.local", time).Material)
        {
            Assert.Equal(replacement.RootFingerprint, kept!.RootFingerprint);
            Assert.False(Directory.Exists(_dir + ".next"));
        }
    }

    [Fact]
    public void Open_NoCaYet_MakesASelfSignedRootOwnerOnly_AndKeepsItAcrossRestarts()
    {
        var time = new FixedClock(Now);
        var (first, errors) = CaStore.Open(null, _dir, "cluster.local", time);
        Assert.Empty(errors);
        using (first)
        {
            Assert.Equal(first!.Root.RawData, first.Signer.RawData);
            Assert.Contains("O=cluster.local", first.Root.Subject, StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "ca-key.pem")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));

            var (again, _) = CaStore.Open(null, _dir, "cluster.local", time);
            using (again)
            {
                Assert.Equal(first.RootFingerprint, again!.RootFingerprint);
            }
        }
    }

    [Fact]
    public void Open_PluggedInDirectory_IsUsedInsteadOfTheOwnRoot()
    {
        var plugged = Path.Combine(_dir, "cacerts");
        CaStore.Write(plugged, PluggedIn());

        var (material, errors) = CaStore.Open(plugged, Path.Combine(_dir, "own"), "cluster.local", new FixedClock(Now));

        Assert.Empty(errors);
        using (material)
        {
            Assert.Contains("Operator Root", material!.Root.Subject, StringComparison.Ordinal);
        }

        Assert.False(Directory.Exists(Path.Combine(_dir, "own")));
    }

    [Fact]
    public void Read_KeyReadableByOthers_IsRefused()
    {
        CaStore.Write(_dir, PluggedIn());
        File.SetUnixFileMode(Path.Combine(_dir, "ca-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var (material, errors) = CaStore.Read(_dir, Now);

        Assert.Null(material);
        Assert.Contains("chmod 600", Assert.Single(errors), StringComparison.Ordinal);
    }

    public static TheoryData<string, Func<Dictionary<string, string>, Dictionary<string, string>>, string> Broken => new()
    {
        { "missing key", f => Without(f, "ca-key.pem"), "ca-key.pem is missing" },
        { "key of another certificate", f => With(f, "ca-key.pem", PluggedIn()["ca-key.pem"]), "cannot read the CA files" },
        { "signer that is no CA", f => PluggedIn(intermediateIsCa: false), "is not a CA certificate" },
        { "chain to another root", f => With(f, "root-cert.pem", PluggedIn()["root-cert.pem"]), "does not chain to root-cert.pem" },
        { "garbage", f => With(f, "ca-cert.pem", "not pem"), "cannot read the CA files" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Load_BrokenLayout_ReportsWhy(string why, Func<Dictionary<string, string>, Dictionary<string, string>> breakIt, string expected)
    {
        var material = CaMaterial.Load(breakIt(PluggedIn()), Now, out var errors);

        Assert.True(material is null, why);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    private static Dictionary<string, string> Without(Dictionary<string, string> files, string name)
    {
        files.Remove(name);
        return files;
    }

    private static Dictionary<string, string> With(Dictionary<string, string> files, string name, string text)
    {
        files[name] = text;
        return files;
    }
}

using Trellis.Api.Identity;
using Trellis.ControlPlane.Ca;

namespace Trellis.ControlPlane.Tests.Ca;

/// <summary>The control plane's own workload certificate: issued in-process, shown in the CA's status, renewed at the renewal fraction.</summary>
public sealed class OwnIdentityTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-own-" + Guid.NewGuid().ToString("N"));
    private readonly MovingClock _clock = new(CaTestCertificates.Now);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Current_IsIssuedOnce_ShownAsTheControlPlanes_AndRenewedAtHalfItsLifetime()
    {
        var ca = new CaService(new CertificateAuthority(CertificateAuthority.CreateSelfSigned("cluster.local", CaTestCertificates.Now), _clock),
            JoinToken.Open("0123456789abcdef-join", _dir), CertificatePolicy.Default, _dir, _clock);
        var id = SpiffeId.Parse("spiffe://cluster.local/ns/knative-eventing/sa/mt-broker-filter");
        var own = new OwnIdentity(ca, id, _clock);

        var (first, error) = own.Current();
        Assert.Null(error);
        Assert.Equal(id, SpiffeId.FromCertificate(first!.TargetCertificate));
        Assert.True(first.TargetCertificate.HasPrivateKey);
        Assert.Same(first, own.Current().Context);
        Assert.Contains(ca.Status().Workloads, w => w.Identity == id.ToString() && w.Node == CaService.OwnNode);

        _clock.Now = CaTestCertificates.Now.AddHours(11);
        Assert.Same(first, own.Current().Context);
        _clock.Now = CaTestCertificates.Now.AddHours(12).AddMinutes(1);
        var renewed = own.Current().Context!;
        Assert.NotSame(first, renewed);
        Assert.NotEqual(first.TargetCertificate.SerialNumber, renewed.TargetCertificate.SerialNumber);
        Assert.True(renewed.TargetCertificate.NotAfter.ToUniversalTime() > first.TargetCertificate.NotAfter.ToUniversalTime());
    }

    private sealed class MovingClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

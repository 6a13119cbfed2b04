using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.LoadBalancing;

/// <summary>Ejects endpoints the way the proxy does: five 503s in a row through a detector.</summary>
internal static class OutlierTesting
{
    public static void Eject(params EndpointState[] endpoints)
    {
        using var detector = OutlierDetector.Create(new OutlierDetectionConfig { MaxEjectionPercent = 100 }, endpoints, null, new ManualTimeProvider());
        Eject(detector, endpoints);
    }

    /// <summary>Through the cluster's own detector, whose ejection count pickers read.</summary>
    public static void Eject(OutlierDetector detector, params EndpointState[] endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            for (var i = 0; i < 5; i++)
            {
                detector.Record(endpoint, AttemptOutcome.Response(503));
            }

            Assert.True(endpoint.Outlier.IsEjected);
        }
    }
}

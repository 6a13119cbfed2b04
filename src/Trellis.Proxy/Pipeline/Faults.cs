using System.Globalization;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;

namespace Trellis.Proxy.Pipeline;

/// <summary>Envoy's fault filter answers, as Istio's <c>fault.abort</c> configures them.</summary>
internal static class Faults
{
    private static readonly string[] GrpcStatusText = Enumerable.Range(0, 17).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    /// <summary>
    /// An HTTP abort answers its status with Envoy's body; a gRPC abort is a trailers-only gRPC answer: HTTP 200,
    /// <c>content-type: application/grpc</c> and the <c>grpc-status</c>, as Envoy writes it.
    /// </summary>
    public static LocalReply Abort(FaultAbortConfig abort, ResponseFlags flags)
    {
        var (status, body) = ForwardErrorResponses.Describe(ForwardError.FaultAbort);
        if (abort.GrpcStatus is { } grpc)
        {
            return new LocalReply(
                200, default, flags | ResponseFlags.FaultInjected, ForwardError.FaultAbort, "application/grpc",
                [new("grpc-status", grpc is >= 0 and <= 16 ? GrpcStatusText[grpc] : grpc.ToString(CultureInfo.InvariantCulture)), new("grpc-message", "fault filter abort")]);
        }

        return new LocalReply(abort.HttpStatus ?? status, body, flags | ResponseFlags.FaultInjected, ForwardError.FaultAbort);
    }
}

using System.Collections.Frozen;

namespace Trellis.Api.Networking;

/// <summary>
/// gRPC status names as Istio accepts them in <c>fault.abort.grpcStatus</c> (pilot's <c>SupportedGRPCStatus</c>): the
/// upper-case names of grpc/grpc's <c>statuscodes.md</c>, each with its code.
/// </summary>
public static class GrpcStatuses
{
    public static readonly FrozenDictionary<string, int> Codes = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["OK"] = 0,
        ["CANCELLED"] = 1,
        ["UNKNOWN"] = 2,
        ["INVALID_ARGUMENT"] = 3,
        ["DEADLINE_EXCEEDED"] = 4,
        ["NOT_FOUND"] = 5,
        ["ALREADY_EXISTS"] = 6,
        ["PERMISSION_DENIED"] = 7,
        ["RESOURCE_EXHAUSTED"] = 8,
        ["FAILED_PRECONDITION"] = 9,
        ["ABORTED"] = 10,
        ["OUT_OF_RANGE"] = 11,
        ["UNIMPLEMENTED"] = 12,
        ["INTERNAL"] = 13,
        ["UNAVAILABLE"] = 14,
        ["DATA_LOSS"] = 15,
        ["UNAUTHENTICATED"] = 16,
    }.ToFrozenDictionary(StringComparer.Ordinal);
}

using System.Text;
using Trellis.Proxy.Forwarding;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// An answer the proxy makes itself instead of relaying one: an error, a redirect, a direct response, a CORS
/// preflight, a fault abort, a rate limit. Every engine writes it in its own protocol from these parts, so that the
/// HTTP/1.1 fast path, the HTTP/2 fast path and the Kestrel path answer alike. <see cref="ResponseFlags"/> go out in
/// <see cref="ResponseFlagNames.Header"/>.
/// </summary>
/// <param name="Error">What the access log and telemetry record; <see cref="ForwardError.None"/> for answers that are
/// not failures (redirects, direct responses, preflights).</param>
/// <param name="ContentType">Null for no body and no content type.</param>
/// <param name="Headers">Further response fields (Location, Access-Control-*, x-ratelimit-*, grpc-status), or null.</param>
internal readonly record struct LocalReply(
    int Status,
    ReadOnlyMemory<byte> Body,
    ResponseFlags Flags,
    ForwardError Error,
    string? ContentType = "text/plain",
    KeyValuePair<string, string>[]? Headers = null)
{
    /// <summary>The answer to a failure (<see cref="ForwardErrorResponses"/> has its status, body and flags).</summary>
    public static LocalReply For(ForwardError error, ResponseFlags extra = ResponseFlags.None)
    {
        var (status, body) = ForwardErrorResponses.Describe(error);
        return new LocalReply(status, body, ForwardErrorResponses.FlagsOf(error) | extra, error);
    }

    /// <summary>A failure answered with a body made for the occasion (activation errors name their cluster).</summary>
    public static LocalReply For(ForwardError error, int status, string body) =>
        new(status, Encoding.UTF8.GetBytes(body), ForwardErrorResponses.FlagsOf(error), error);
}

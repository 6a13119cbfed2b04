using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Trellis.Proxy.Forwarding;

/// <summary>Copies upstream response status, headers and trailers onto the Kestrel response.</summary>
internal static class ResponseCopier
{
    public static void CopyHeaders(HttpResponseMessage upstream, HttpResponse response, bool isUpgrade)
    {
        if (!isUpgrade)
        {
            // For an upgrade Kestrel's UpgradeAsync sets 101 itself.
            response.StatusCode = (int)upstream.StatusCode;
        }

        // Non-validated access: no parsing and no enumerator allocated when the upstream sent no Connection header.
        var connection = upstream.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connectionValues)
            ? ToStringValues(connectionValues)
            : StringValues.Empty;
        Copy(upstream.Headers.NonValidated, response.Headers, connection, isUpgrade);
        Copy(upstream.Content.Headers.NonValidated, response.Headers, connection, isUpgrade);
    }

    /// <summary>Forwards trailers when the client's protocol can carry them (HTTP/2; Kestrel's HTTP/1.1 cannot).</summary>
    public static void CopyTrailers(HttpResponseMessage upstream, HttpResponse response)
    {
        var trailers = upstream.TrailingHeaders.NonValidated;
        if (trailers.Count == 0 || !response.SupportsTrailers())
        {
            return;
        }

        foreach (var (name, values) in trailers)
        {
            response.AppendTrailer(name, ToStringValues(values));
        }
    }

    private static void Copy(HttpHeadersNonValidated source, IHeaderDictionary target, StringValues connection, bool isUpgrade)
    {
        foreach (var (name, values) in source)
        {
            if (HopByHopHeaders.IsHopByHop(name))
            {
                // After a 101 the client must see which protocol it is now speaking.
                if (!(isUpgrade && name.Equals(HeaderNames.Upgrade, StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }
            }
            else if (connection.Count > 0 && HopByHopHeaders.IsNamedByConnection(connection, name))
            {
                continue;
            }

            target[name] = ToStringValues(values);
        }
    }

    private static StringValues ToStringValues(HeaderStringValues values)
    {
        if (values.Count == 1)
        {
            return new StringValues(values.ToString());
        }

        // Several values stay separate: Set-Cookie must not be joined with commas.
        var array = new string[values.Count];
        var i = 0;
        foreach (var value in values)
        {
            array[i++] = value;
        }

        return new StringValues(array);
    }
}

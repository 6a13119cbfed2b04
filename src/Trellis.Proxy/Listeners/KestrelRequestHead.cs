using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// Kestrel's request written out as the HTTP/1.1 head a client would have sent, so that the Kestrel path's upstream
/// head comes from the same <see cref="UpstreamHeadWriter"/> as the fast paths' (the forwarding rules live there
/// once). The head is then parsed by <see cref="RequestHead"/> in its trusted mode: Kestrel has judged the request
/// already. What Kestrel decoded is written as the upstream must see it: the path re-escaped (PathString, as YARP
/// does; System.Uri normalises the rare target with other odd characters, as the handler would), the body's framing
/// as Kestrel knows it (Content-Length, else chunked; <c>Content-Length: 0</c> for a bodiless request whose method
/// normally has a body, as SocketsHttpHandler sends it).
/// </summary>
internal static class KestrelRequestHead
{
    /// <summary>Path and query characters that <see cref="Uri"/> passes through unchanged; anything else (and every '%') goes through a Uri.</summary>
    private static readonly SearchValues<char> PlainTarget = SearchValues.Create(
        "!$&'()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~");

    /// <summary>Bytes that would end or forge a header line. Kestrel refuses them in request headers; this is the second lock.</summary>
    private static readonly SearchValues<char> LineBreaking = SearchValues.Create("\r\n\0");

    /// <summary>Writes the head into <paramref name="output"/> and parses it into <paramref name="head"/>; false if it does not parse (nothing then goes upstream).</summary>
    public static bool TryWrite(HttpContext context, HeadBuilder output, RequestHead head)
    {
        var request = context.Request;
        output.Clear();
        output.Append(request.Method);
        output.Append(" "u8);
        var path = new PathString(request.Path.HasValue ? request.Path.Value! : "/").ToUriComponent();
        var query = request.QueryString.Value;
        if (path.AsSpan().IndexOfAnyExcept(PlainTarget) < 0 && (string.IsNullOrEmpty(query) || query.AsSpan().IndexOfAnyExcept(PlainTarget) < 0))
        {
            output.Append(path);
            output.Append(query ?? string.Empty);
        }
        else
        {
            output.Append(new Uri(string.Concat("http://localhost", path, query), UriKind.Absolute).PathAndQuery);
        }

        output.Append(" HTTP/1.1\r\n"u8);
        foreach (var (name, values) in request.Headers)
        {
            if (name.Length == 0 || name[0] == ':' || IsFraming(name) || !IsSafe(values))
            {
                continue;
            }

            foreach (var value in values)
            {
                output.AppendHeader(name, value ?? string.Empty);
            }
        }

        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            if (request.ContentLength is { } length)
            {
                output.Append("Content-Length: "u8);
                output.Append(length);
                output.AppendCrLf();
            }
            else
            {
                output.Append("Transfer-Encoding: chunked\r\n"u8);
            }
        }
        else if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsConnect(request.Method)
            && !HttpMethods.IsOptions(request.Method) && !HttpMethods.IsDelete(request.Method) && !HttpMethods.IsTrace(request.Method))
        {
            output.Append("Content-Length: 0\r\n"u8);
        }

        output.AppendCrLf();
        return head.Parse(output.Written.Span, trusted: true) == HeadParse.Complete;
    }

    /// <summary>The framing is the body's as Kestrel decoded it, written above, whatever the client's fields said.</summary>
    private static bool IsFraming(string name) =>
        name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase);

    private static bool IsSafe(StringValues values)
    {
        foreach (var value in values)
        {
            if (value is not null && value.AsSpan().IndexOfAny(LineBreaking) >= 0)
            {
                return false;
            }
        }

        return true;
    }
}

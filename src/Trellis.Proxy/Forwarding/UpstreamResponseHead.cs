using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// Puts a parsed upstream response head (<see cref="ResponseHead"/>) onto Kestrel's response as
/// <see cref="ResponseCopier"/> puts an HttpResponseMessage: status, headers minus hop-by-hop and
/// Connection-named ones, repeated fields as one header with several values; and a chunked body's
/// trailers when the client can take them. Well-known names come from a table in the handler's
/// spelling, so they cost no string.
/// </summary>
internal static class UpstreamResponseHead
{
    private static readonly string[] KnownNames =
    [
        "Accept-Ranges", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
        "Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Access-Control-Max-Age", "Age", "Allow", "Alt-Svc",
        "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Location", "Content-Range",
        "Content-Security-Policy", "Content-Type", "Date", "ETag", "Expires", "Last-Modified", "Link", "Location", "Pragma",
        "Retry-After", "Server", "Set-Cookie", "Strict-Transport-Security", "Vary", "Via", "WWW-Authenticate",
        "X-Content-Type-Options", "X-Frame-Options", "X-Powered-By", "grpc-message", "grpc-status",
    ];

    public static void Copy(ResponseHead head, ReadOnlySpan<byte> buffer, HttpResponse response)
    {
        response.StatusCode = head.Status;
        var headers = response.Headers;
        var fields = head.Fields.AsSpan();
        var namesHeaders = head.Fields.IndexOf(FieldKind.Connection) >= 0;
        for (var i = 0; i < fields.Length; i++)
        {
            var field = fields[i];
            // The pipeline's edits are applied to the response afterwards (ResponseEdits.ApplyTo).
            if (!ResponseFields.Forwards(field, head.Fields, buffer, default, rechunked: head.Chunked, namesHeaders))
            {
                continue;
            }

            if (field.Kind == FieldKind.ContentLength)
            {
                // The parser checked it (repeats must agree); without a chunked framing it is the body's length.
                if (head.ContentLength >= 0)
                {
                    response.ContentLength = head.ContentLength;
                }

                continue;
            }

            var name = field.Name(buffer);
            if (SeenBefore(fields, i, buffer, name))
            {
                continue;
            }

            headers[NameOf(name)] = ValuesOf(fields, i, buffer, name);
        }
    }

    /// <summary>Forwards a chunked body's trailer section when the client's protocol can carry trailers (HTTP/2).</summary>
    public static void CopyTrailers(ReadOnlySpan<byte> trailers, HttpResponse response)
    {
        if (trailers.IsEmpty || !response.SupportsTrailers())
        {
            return;
        }

        var fields = new HeaderFields();
        if (fields.Parse(trailers, 0) <= 0)
        {
            return; // outside the syntax we forward: the body is whole, the trailers are dropped
        }

        var all = fields.AsSpan();
        for (var i = 0; i < all.Length; i++)
        {
            var field = all[i];
            var name = field.Name(trailers);
            if (field.IsHopByHop || field.Kind is FieldKind.ContentLength or FieldKind.Host || SeenBefore(all, i, trailers, name))
            {
                continue;
            }

            response.AppendTrailer(NameOf(name), ValuesOf(all, i, trailers, name));
        }
    }

    private static bool SeenBefore(ReadOnlySpan<HeaderField> fields, int index, ReadOnlySpan<byte> buffer, ReadOnlySpan<byte> name)
    {
        for (var j = 0; j < index; j++)
        {
            if (SameName(fields[j].Name(buffer), name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One value, or every field of the name in order: Set-Cookie must not be joined with commas.</summary>
    private static StringValues ValuesOf(ReadOnlySpan<HeaderField> fields, int first, ReadOnlySpan<byte> buffer, ReadOnlySpan<byte> name)
    {
        var count = 1;
        for (var j = first + 1; j < fields.Length; j++)
        {
            count += SameName(fields[j].Name(buffer), name) ? 1 : 0;
        }

        if (count == 1)
        {
            return new StringValues(Encoding.Latin1.GetString(fields[first].Value(buffer)));
        }

        var values = new string[count];
        var n = 0;
        for (var j = first; j < fields.Length; j++)
        {
            if (SameName(fields[j].Name(buffer), name))
            {
                values[n++] = Encoding.Latin1.GetString(fields[j].Value(buffer));
            }
        }

        return new StringValues(values);
    }

    private static string NameOf(ReadOnlySpan<byte> name)
    {
        foreach (var known in KnownNames)
        {
            if (known.Length == name.Length && Ascii.EqualsIgnoreCase(name, known))
            {
                return known;
            }
        }

        return Encoding.Latin1.GetString(name);
    }

    private static bool SameName(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.Length == b.Length && Ascii.EqualsIgnoreCase(a, b);
}

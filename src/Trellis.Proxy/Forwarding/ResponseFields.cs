using Trellis.Proxy.Http1;
using Trellis.Proxy.Pipeline;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// The forwarding rule for an upstream response's fields, the same for every engine that relays a parsed HTTP/1.1
/// response head (the two fast paths, and the Kestrel path over pooled connections): hop-by-hop fields and the ones
/// Connection names stay behind, and so do fields the pipeline's edits replace; a Content-Length that frames the body
/// as relayed always goes (whatever Connection or an operation says), one that no longer does (a body re-framed as
/// chunks) never.
/// </summary>
internal static class ResponseFields
{
    /// <param name="rechunked">The body goes to the client in a framing other than the upstream's (chunked, or HTTP/2 frames with the length unknown).</param>
    /// <param name="namesHeaders">The head has a Connection field (checked once per head: rare).</param>
    public static bool Forwards(in HeaderField field, HeaderFields fields, ReadOnlySpan<byte> buffer, in ResponseEdits edits, bool rechunked, bool namesHeaders)
    {
        if (field.IsHopByHop)
        {
            return false;
        }

        if (field.Kind == FieldKind.ContentLength)
        {
            return !rechunked;
        }

        var name = field.Name(buffer);
        return !(namesHeaders && fields.IsNamedByConnection(buffer, name)) && !(!edits.IsEmpty && edits.Drops(name));
    }
}

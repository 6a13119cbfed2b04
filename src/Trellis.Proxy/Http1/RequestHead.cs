using System.Text;

namespace Trellis.Proxy.Http1;

/// <summary>What parsing a buffer's start as a message head found.</summary>
internal enum HeadParse
{
    /// <summary>The head does not end in the buffer yet: read more.</summary>
    Incomplete,
    Complete,
    /// <summary>Valid or not, not what the fast path handles: Kestrel takes the connection.</summary>
    Unsupported,

    /// <summary>A whole <c>CONNECT</c> head (authority-form target): a tunnel, not an exchange (<see cref="Tcp.ConnectTunnel"/>).</summary>
    Connect,
}

/// <summary>
/// An HTTP/1.1 request head parsed in place (RFC 9112 §3), limited to what the fast path forwards
/// itself: origin-form targets whose path needs no decoding or normalization and that both paths send
/// upstream unchanged, one valid non-empty Host, a body framed by one Content-Length or by
/// <c>Transfer-Encoding: chunked</c> alone (never both: RFC 9112 §6.1, the request-smuggling case)
/// that no Connection field makes hop-by-hop, no upgrade, no Expect but <c>100-continue</c>. The rest of HTTP/1.1 (and every malformed
/// request, whose 400 answers Kestrel owns) is <see cref="HeadParse.Unsupported"/>. Reused per connection.
/// </summary>
internal sealed class RequestHead
{
    public HeaderFields Fields { get; } = new();

    /// <summary>Bytes of the head, including the empty line.</summary>
    public int Length { get; private set; }

    public int MethodLength { get; private set; }

    public int TargetStart { get; private set; }

    public int TargetLength { get; private set; }

    /// <summary>The path is the target up to '?'.</summary>
    public int PathLength { get; private set; }

    /// <summary>Content-Length, 0 without one (and when chunked).</summary>
    public long ContentLength { get; private set; }

    /// <summary>The body is chunked (the only transfer coding the fast path relays).</summary>
    public bool Chunked { get; private set; }

    /// <summary><c>Expect: 100-continue</c>: the client waits for an interim 100 before it sends the body.</summary>
    public bool ExpectContinue { get; private set; }

    /// <summary>The client asked to close the connection after this exchange.</summary>
    public bool Close { get; private set; }

    public int HostIndex { get; private set; }

    public bool IsHead { get; private set; }

    /// <param name="trusted">
    /// For a head the proxy wrote itself from a request Kestrel has already judged (<c>KestrelRequestHead</c>): its
    /// target and values are taken as they are (escaped paths, obs-text), and Host, Upgrade and Expect are whatever
    /// Kestrel let through. Only the framing and the fields' positions are read.
    /// </param>
    public HeadParse Parse(ReadOnlySpan<byte> buffer, bool trusted = false)
    {
        var lineEnd = buffer.IndexOf((byte)'\n');
        if (lineEnd < 0)
        {
            return HeadParse.Incomplete;
        }

        if (lineEnd < 2 || buffer[lineEnd - 1] != '\r')
        {
            return HeadParse.Unsupported;
        }

        // method SP request-target SP HTTP-version
        var line = buffer[..(lineEnd - 1)];
        var space = line.IndexOf((byte)' ');
        if (space <= 0 || line[..space].IndexOfAnyExcept(HeadSyntax.Token) >= 0)
        {
            return HeadParse.Unsupported;
        }

        MethodLength = space;
        TargetStart = space + 1;
        var afterMethod = line[TargetStart..];
        var targetEnd = afterMethod.IndexOf((byte)' ');
        if (targetEnd <= 0 || !afterMethod[(targetEnd + 1)..].SequenceEqual("HTTP/1.1"u8))
        {
            return HeadParse.Unsupported;
        }

        var target = afterMethod[..targetEnd];
        if (target[0] != '/' || (!trusted && target.IndexOfAnyExcept(HeadSyntax.Target) >= 0))
        {
            // Only here, off the common path, is CONNECT looked for: an origin-form request never pays for it.
            return !trusted && space == 7 && line.StartsWith("CONNECT"u8) ? ParseConnect(buffer, lineEnd, targetEnd) : HeadParse.Unsupported;
        }

        TargetLength = targetEnd;
        var query = target.IndexOf((byte)'?');
        PathLength = query >= 0 ? query : targetEnd;

        // Kestrel decodes %-escapes and removes dot segments before routing sees the path, and the
        // Kestrel path re-escapes what URIs do not allow raw (PathString, System.Uri) before sending
        // it upstream; such targets are rare, so rather than repeat those rules here they take
        // Kestrel's path, and the fast path forwards only targets both paths send unchanged.
        var path = target[..PathLength];
        if (!trusted && (path.IndexOfAnyExcept(HeadSyntax.PlainPath) >= 0 || path.IndexOf("/."u8) >= 0 || !HeadSyntax.IsPlainQuery(target[PathLength..])))
        {
            return HeadParse.Unsupported;
        }

        var end = Fields.Parse(buffer, lineEnd + 1, trusted);
        if (end <= 0)
        {
            return end == 0 ? HeadParse.Incomplete : HeadParse.Unsupported;
        }

        Length = end;
        return CheckFields(buffer, trusted) ? HeadParse.Complete : HeadParse.Unsupported;
    }

    /// <summary>
    /// A CONNECT head: the target as it came (<see cref="Target"/>, judged by <see cref="Tcp.ConnectTarget"/>) and the
    /// fields up to the empty line. RFC 9110 §9.3.6: a CONNECT has no content, so a framing field makes it malformed
    /// (<see cref="ConnectHasContent"/>).
    /// </summary>
    private HeadParse ParseConnect(ReadOnlySpan<byte> buffer, int lineEnd, int targetEnd)
    {
        TargetLength = PathLength = targetEnd;
        var end = Fields.Parse(buffer, lineEnd + 1, trusted: false);
        if (end <= 0)
        {
            return end == 0 ? HeadParse.Incomplete : HeadParse.Unsupported;
        }

        Length = end;
        ConnectHasContent = false;
        foreach (var field in Fields.AsSpan())
        {
            ConnectHasContent |= field.Kind == FieldKind.TransferEncoding
                || (field.Kind == FieldKind.ContentLength && !field.Value(buffer).SequenceEqual("0"u8));
        }

        return HeadParse.Connect;
    }

    /// <summary>A CONNECT head carried Content-Length (other than 0) or Transfer-Encoding: refused, 400.</summary>
    public bool ConnectHasContent { get; private set; }

    /// <summary>The method as a string; the common ones are interned.</summary>
    public string Method(ReadOnlySpan<byte> buffer)
    {
        var method = buffer[..MethodLength];
        return method switch
        {
            _ when method.SequenceEqual("GET"u8) => "GET",
            _ when method.SequenceEqual("POST"u8) => "POST",
            _ when method.SequenceEqual("PUT"u8) => "PUT",
            _ when method.SequenceEqual("DELETE"u8) => "DELETE",
            _ when method.SequenceEqual("HEAD"u8) => "HEAD",
            _ when method.SequenceEqual("PATCH"u8) => "PATCH",
            _ when method.SequenceEqual("OPTIONS"u8) => "OPTIONS",
            _ => Encoding.ASCII.GetString(method),
        };
    }

    public ReadOnlySpan<byte> Target(ReadOnlySpan<byte> buffer) => buffer.Slice(TargetStart, TargetLength);

    public ReadOnlySpan<byte> Path(ReadOnlySpan<byte> buffer) => buffer.Slice(TargetStart, PathLength);

    /// <summary>The query including its '?', empty without one.</summary>
    public ReadOnlySpan<byte> Query(ReadOnlySpan<byte> buffer) => buffer.Slice(TargetStart + PathLength, TargetLength - PathLength);

    public ReadOnlySpan<byte> Host(ReadOnlySpan<byte> buffer) => Fields[HostIndex].Value(buffer);

    private bool CheckFields(ReadOnlySpan<byte> buffer, bool trusted)
    {
        HostIndex = -1;
        ContentLength = 0;
        Chunked = false;
        ExpectContinue = false;
        Close = false;
        var lengths = 0;
        var codings = 0;
        var fields = Fields.AsSpan();
        for (var i = 0; i < fields.Length; i++)
        {
            var field = fields[i];
            switch (field.Kind)
            {
                case FieldKind.Host:
                    if (HostIndex >= 0 && !trusted)
                    {
                        return false; // RFC 9112 §3.2: a 400, Kestrel's to give
                    }

                    HostIndex = i;
                    break;
                case FieldKind.ContentLength:
                    if (++lengths > 1 || !HeadSyntax.TryParseLength(field.Value(buffer), out var length))
                    {
                        return false;
                    }

                    ContentLength = length;
                    break;
                case FieldKind.TransferEncoding:
                    if (++codings > 1 || !Ascii.EqualsIgnoreCase(field.Value(buffer), "chunked"u8))
                    {
                        return false;
                    }

                    Chunked = true;
                    break;
                case FieldKind.Expect:
                    // 100-continue is relayed (the upstream's 100 reaches the client); any other expectation is Kestrel's 417.
                    if (ExpectContinue || !Ascii.EqualsIgnoreCase(field.Value(buffer), "100-continue"u8))
                    {
                        if (trusted)
                        {
                            break;
                        }

                        return false;
                    }

                    ExpectContinue = true;
                    break;
                case FieldKind.Upgrade:
                    if (!trusted)
                    {
                        return false;
                    }

                    break;
                case FieldKind.Connection:
                    Close |= HeadSyntax.ListContains(field.Value(buffer), "close"u8);
                    break;
            }
        }

        IsHead = MethodLength == 4 && buffer[..4].SequenceEqual("HEAD"u8);
        if (trusted)
        {
            return !(Chunked && lengths > 0);
        }

        // An empty Host is valid, but the Kestrel path then sends the endpoint's authority, which
        // the fast path does not; a Host Kestrel rejects is Kestrel's 400 to give.
        return HostIndex >= 0 && !(Chunked && lengths > 0) && fields[HostIndex].ValueLength > 0 && HeadSyntax.IsValidHost(Host(buffer)) && !ConnectionNamesFraming(buffer);
    }

    /// <summary>
    /// Connection listing Content-Length (or Transfer-Encoding) would make the framing field
    /// hop-by-hop: dropped from the upstream head while the body still follows it, the body would be
    /// read upstream as the next request. Kestrel frames such a request itself.
    /// </summary>
    private bool ConnectionNamesFraming(ReadOnlySpan<byte> buffer) =>
        Fields.IsNamedByConnection(buffer, "Content-Length"u8) || Fields.IsNamedByConnection(buffer, "Transfer-Encoding"u8);
}

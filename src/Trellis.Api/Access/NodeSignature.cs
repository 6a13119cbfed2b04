using System.Globalization;
using System.Text;

namespace Trellis.Api.Access;

/// <summary>
/// How an agent authenticates to the API with its node identity (the node certificate the CA issued at join): every
/// request carries the certificate chain, a timestamp and the node key's signature over the method, the path with its
/// query and the timestamp. The control plane checks the chain against its root, the SPIFFE node ID in its trust
/// domain, the signature, and that the timestamp is within <see cref="Identity.CaProtocol.SignatureWindow"/> of its
/// clock. The body is not signed: the push stream's body is a stream that never ends (see docs/security.md).
/// </summary>
public static class NodeSignature
{
    /// <summary>The node certificate chain, PEM, base64-encoded (a header value holds no newlines).</summary>
    public const string CertificateHeader = "x-trellis-node-certificate";

    public const string TimestampHeader = "x-trellis-node-timestamp";

    /// <summary>base64 of the node key's signature over <see cref="Message"/>.</summary>
    public const string SignatureHeader = "x-trellis-node-signature";

    public static string FormatTimestamp(DateTimeOffset timestamp) => timestamp.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    public static bool TryParseTimestamp(string? text, out DateTimeOffset timestamp) =>
        DateTimeOffset.TryParseExact(text, "O", CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out timestamp);

    /// <summary>What the node key signs; <paramref name="pathAndQuery"/> as sent (<c>/registry/v1/nodes/a?x=1</c>).</summary>
    public static byte[] Message(string method, string pathAndQuery, string timestamp) =>
        Encoding.UTF8.GetBytes("trellis-node-request\n" + method.ToUpperInvariant() + "\n" + pathAndQuery + "\n" + timestamp);
}

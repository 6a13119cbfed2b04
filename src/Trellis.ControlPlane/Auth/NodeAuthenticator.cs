using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Trellis.Api.Access;
using Trellis.Api.Identity;
using Trellis.ControlPlane.Ca;

namespace Trellis.ControlPlane.Auth;

/// <summary>
/// Checks a request signed by a node key (<see cref="NodeSignature"/>): the chain through the CA's own check
/// (<see cref="CaService.VerifyNodeCertificate"/>), then the timestamp window and the signature. A chain that verified
/// is remembered until its certificate expires, so a node's steady requests cost one signature check each.
/// </summary>
public sealed class NodeAuthenticator(CaService ca, TimeProvider time)
{
    private const int MaxRemembered = 4096;
    private readonly ConcurrentDictionary<string, (string Node, X509Certificate2 Leaf)> _verified = new(StringComparer.Ordinal);

    /// <summary>The node, or null and why not.</summary>
    public (string? Node, string? Problem) Authenticate(string method, string pathAndQuery, string? certificateHeader, string? timestamp, string? signature)
    {
        if (string.IsNullOrEmpty(certificateHeader) || string.IsNullOrEmpty(signature) || !NodeSignature.TryParseTimestamp(timestamp, out var at))
        {
            return (null, $"a node request needs {NodeSignature.CertificateHeader}, {NodeSignature.TimestampHeader} and {NodeSignature.SignatureHeader}");
        }

        var now = time.GetUtcNow();
        if ((at - now).Duration() > CaProtocol.SignatureWindow)
        {
            return (null, "the request's timestamp is too far from the control plane's clock");
        }

        if (!_verified.TryGetValue(certificateHeader, out var known) || known.Leaf.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            string pem;
            try
            {
                pem = Encoding.UTF8.GetString(Convert.FromBase64String(certificateHeader));
            }
            catch (FormatException)
            {
                return (null, $"{NodeSignature.CertificateHeader} is not base64");
            }

            var (node, leaf, problem) = ca.VerifyNodeCertificate(pem);
            if (node is null)
            {
                return (null, problem);
            }

            if (_verified.Count >= MaxRemembered)
            {
                _verified.Clear(); // renewals leave old chains behind; forgetting them costs one chain check each
            }

            known = (node, leaf!);
            _verified[certificateHeader] = known;
        }

        return CaProtocol.Verify(known.Leaf, NodeSignature.Message(method, pathAndQuery, timestamp!), signature)
            ? (known.Node, null)
            : (null, "the request's signature does not verify with the node certificate");
    }
}

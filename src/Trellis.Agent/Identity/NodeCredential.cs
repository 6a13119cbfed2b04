using System.Security.Cryptography;
using System.Text;
using Trellis.Api.Access;
using Trellis.Api.Identity;

namespace Trellis.Agent.Identity;

/// <summary>
/// The agent's credential for the API: every request is signed with the node key the CA certified at join
/// (<see cref="NodeSignature"/>), so the registry, the serving reports, the Deployment watch and the node proxy's push
/// stream all speak as this node, and the join token is never sent again. Requests wait until the node has joined;
/// the CA's own paths are sent as they are (they carry the join token or a signature of their own).
/// </summary>
public sealed class NodeCredential(TimeProvider time) : IRequestCredential
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ECDsa? _key;
    private string? _certificateHeader;

    /// <summary>Completes once the node has its first certificate.</summary>
    public Task Joined => _joined.Task;

    /// <summary>The node key and certificate chain (PEM) after a join or renewal; the previous key is disposed.</summary>
    public void Set(ECDsa key, string chainPem)
    {
        ECDsa? previous;
        lock (_gate)
        {
            previous = _key;
            _key = key;
            _certificateHeader = Convert.ToBase64String(Encoding.UTF8.GetBytes(chainPem));
        }

        if (!ReferenceEquals(previous, key))
        {
            previous?.Dispose();
        }

        _joined.TrySetResult();
    }

    public async ValueTask ApplyAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var pathAndQuery = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.PathAndQuery : request.RequestUri.OriginalString;
        if (pathAndQuery.StartsWith("/ca/v1/", StringComparison.Ordinal))
        {
            return;
        }

        await _joined.Task.WaitAsync(cancellationToken);
        var timestamp = NodeSignature.FormatTimestamp(time.GetUtcNow());
        var message = NodeSignature.Message(request.Method.Method, pathAndQuery, timestamp);
        string signature, certificate;
        lock (_gate)
        {
            signature = CaProtocol.Sign(_key!, message);
            certificate = _certificateHeader!;
        }

        request.Headers.Remove(NodeSignature.CertificateHeader);
        request.Headers.Remove(NodeSignature.TimestampHeader);
        request.Headers.Remove(NodeSignature.SignatureHeader);
        request.Headers.TryAddWithoutValidation(NodeSignature.CertificateHeader, certificate);
        request.Headers.TryAddWithoutValidation(NodeSignature.TimestampHeader, timestamp);
        request.Headers.TryAddWithoutValidation(NodeSignature.SignatureHeader, signature);
    }
}

using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Identity;

namespace Trellis.Agent.Identity;

/// <summary>
/// Keeps the node proxy's workload certificates (Istio's node agent): joins the CA once with the operator's join
/// token, then, for every service account the node runs, makes a key here, sends only its CSR (signed with the node
/// key) and hands the certificate to the proxy. Each certificate, the node's own included, is renewed with a fresh key
/// at <see cref="CertificatePolicy.RenewalFraction"/> of its lifetime; a failure is retried a second later. The trust
/// bundle is polled every <see cref="BundleInterval"/>: a new root reaches the proxy's trust at once, and when the root new
/// certificates are signed by changes (a root rotation) every certificate is renewed at once.
/// </summary>
public sealed partial class CertificateManager : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxSleep = TimeSpan.FromHours(1);

    /// <summary>How often the trust bundle is fetched: bounds how long a root rotation waits for this node.</summary>
    public static readonly TimeSpan BundleInterval = TimeSpan.FromSeconds(5);

    private readonly HttpClient _http;
    private readonly NodeCredential? _credential;
    private readonly string _node;
    private readonly string _joinToken;
    private readonly WorkloadIdentities _target;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, DateTimeOffset> _renewAt = new(StringComparer.Ordinal);
    private KeyAlgorithm _keyAlgorithm = CertificatePolicy.Default.KeyAlgorithm;
    private string? _trustDomain;
    private (ECDsa Key, string ChainPem, DateTimeOffset RenewAt)? _nodeCertificate;
    private string? _bundlePem;
    private string? _signingRoot;
    private DateTimeOffset _nextBundleCheck;
    private Task _loop = Task.CompletedTask;

    /// <summary>The trust the control plane's https certificate is checked with; kept at the CA's current bundle.</summary>
    public Trellis.Api.Access.ControlPlaneTrust? ControlPlaneTrust { get; init; }

    public CertificateManager(HttpClient http, string node, string joinToken, WorkloadIdentities target, TimeProvider time, ILogger log, NodeCredential? credential = null)
    {
        _credential = credential;
        _http = http;
        _node = node;
        _joinToken = joinToken;
        _target = target;
        _time = time;
        _log = log;
    }

    /// <summary>The node's trust domain once it has joined.</summary>
    public string? TrustDomain => Volatile.Read(ref _trustDomain);

    public void Start() => _loop = RunAsync(_stop.Token);

    /// <summary>The service accounts the node runs now (namespace, name); certificates of others are dropped.</summary>
    public void Want(IEnumerable<(string Namespace, string ServiceAccount)> accounts)
    {
        _wantedAccounts = accounts.Distinct().ToList();
        _wake.Release();
    }

    private volatile IReadOnlyList<(string Namespace, string ServiceAccount)> _wantedAccounts = [];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _wake.Dispose();
        if (_credential is null)
        {
            _nodeCertificate?.Key.Dispose();
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            DateTimeOffset until;
            try
            {
                until = await RefreshAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or CryptographicException or System.Text.Json.JsonException or InvalidOperationException)
            {
                LogFailed(_log, e.Message);
                until = _time.GetUtcNow() + RetryDelay;
            }

            // The sleep is measured from now, not from when the renewal times were worked out: the clock may have
            // moved while the certificates were being issued (a slow CA, or a test's clock advanced meanwhile).
            var wait = until - _time.GetUtcNow();
            if (wait <= TimeSpan.Zero)
            {
                continue;
            }

            // Sleep until the next renewal or until the wanted accounts change, on the injected clock.
            using var timeout = new CancellationTokenSource(wait < MaxSleep ? wait : MaxSleep, _time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            try
            {
                await _wake.WaitAsync(either.Token);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Joins or renews what is due; returns when the next renewal is due.</summary>
    private async Task<DateTimeOffset> RefreshAsync(CancellationToken stop)
    {
        var now = _time.GetUtcNow();
        if (_trustDomain is not null && now >= _nextBundleCheck)
        {
            await CheckBundleAsync(stop);
        }

        if (_nodeCertificate is null || _nodeCertificate.Value.RenewAt <= now)
        {
            await JoinOrRenewNodeAsync(stop);
        }

        var trustDomain = TrustDomain!;
        var wanted = _wantedAccounts.Select(a => SpiffeId.ForWorkload(trustDomain, a.Namespace, a.ServiceAccount)).ToList();
        foreach (var gone in _target.All.Keys.Except(wanted.Select(w => w.ToString())).ToList())
        {
            _target.Remove(gone);
            _renewAt.Remove(gone);
        }

        var next = _nodeCertificate!.Value.RenewAt;
        foreach (var id in wanted)
        {
            var key = id.ToString();
            if (!_renewAt.TryGetValue(key, out var at) || at <= now)
            {
                at = await IssueWorkloadAsync(id, stop);
            }

            next = at < next ? at : next;
        }

        return next < _nextBundleCheck ? next : _nextBundleCheck;
    }

    /// <summary>Fetches the trust bundle: hands a changed one to the proxy, and makes everything due when the signing root changed.</summary>
    private async Task<TrustBundle> CheckBundleAsync(CancellationToken stop)
    {
        var bundle = await _http.GetFromJsonAsync("/ca/v1/bundle", WireJsonContext.Default.TrustBundle, stop) ?? throw new InvalidOperationException("the CA sent no trust bundle");
        _nextBundleCheck = _time.GetUtcNow() + BundleInterval;
        if (bundle.TrustBundlePem != _bundlePem && ControlPlaneTrust is { } trust)
        {
            // Fetched over a connection already checked: the API's certificate is the CA's, so its bundle moves with a rotation.
            var roots = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            roots.ImportFromPem(bundle.TrustBundlePem);
            trust.Adopt(roots);
        }

        if (bundle.TrustBundlePem != _bundlePem && _nodeCertificate is not null)
        {
            _target.SetTrustBundle(bundle.TrustBundlePem);
            _bundlePem = bundle.TrustBundlePem;
        }

        if (bundle.SigningRoot is { } signing && _signingRoot is { } held && signing != held && _nodeCertificate is { } node)
        {
            LogRootRotated(_log, signing);
            _nodeCertificate = node with { RenewAt = DateTimeOffset.MinValue };
            foreach (var id in _renewAt.Keys.ToList())
            {
                _renewAt[id] = DateTimeOffset.MinValue;
            }
        }

        _signingRoot = bundle.SigningRoot ?? _signingRoot;
        return bundle;
    }

    private async Task JoinOrRenewNodeAsync(CancellationToken stop)
    {
        if (_trustDomain is null)
        {
            var bundle = await CheckBundleAsync(stop);
            Volatile.Write(ref _trustDomain, bundle.TrustDomain);
        }

        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = Csr(key, CaProtocol.NodeId(_trustDomain, _node));
        CertificateResponse response;
        if (_nodeCertificate is { } current)
        {
            response = await SignedRequestAsync(csr, current.Key, current.ChainPem, stop);
        }
        else
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/ca/v1/join") { Content = JsonContent.Create(new JoinRequest(_node, csr), WireJsonContext.Default.JoinRequest) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _joinToken);
            response = await SendAsync(request, stop);
        }

        if (_credential is null)
        {
            _nodeCertificate?.Key.Dispose(); // with a credential, it disposes the key it replaces (it may be signing with it now)
        }

        _nodeCertificate = (key, response.CertificateChainPem, RenewAt(response));
        _credential?.Set(key, response.CertificateChainPem);
        _keyAlgorithm = response.KeyAlgorithm;
        SetBundle(response.TrustBundlePem);
        LogIssued(_log, CaProtocol.NodeId(_trustDomain, _node).ToString(), response.NotAfter);
    }

    private async Task<DateTimeOffset> IssueWorkloadAsync(SpiffeId id, CancellationToken stop)
    {
        var key = WorkloadKey.Create(id, _keyAlgorithm);
        try
        {
            var (nodeKey, nodeChain, _) = _nodeCertificate!.Value;
            var response = await SignedRequestAsync(key.CsrPem, nodeKey, nodeChain, stop);
            var certificate = key.WithCertificate(response.CertificateChainPem, out var intermediates);
            _target.Set(new WorkloadCertificate(id.ToString(), certificate, intermediates, response.NotAfter));
            SetBundle(response.TrustBundlePem);
            var at = RenewAt(response);
            _renewAt[id.ToString()] = at;
            LogIssued(_log, id.ToString(), response.NotAfter);
            return at;
        }
        finally
        {
            key.Dispose(); // the certificate holds its own copy of the key
        }
    }

    private void SetBundle(string pem)
    {
        _target.SetTrustBundle(pem);
        _bundlePem = pem;
    }

    private async Task<CertificateResponse> SignedRequestAsync(string csr, ECDsa nodeKey, string nodeChain, CancellationToken stop)
    {
        var timestamp = _time.GetUtcNow();
        var body = new WorkloadCertificateRequest(csr, nodeChain, timestamp, CaProtocol.Sign(nodeKey, CaProtocol.SignedMessage(csr, timestamp)));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/ca/v1/certificates") { Content = JsonContent.Create(body, WireJsonContext.Default.WorkloadCertificateRequest) };
        return await SendAsync(request, stop);
    }

    private async Task<CertificateResponse> SendAsync(HttpRequestMessage request, CancellationToken stop)
    {
        using var response = await _http.SendAsync(request, stop);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"the CA refused ({(int)response.StatusCode}): {await response.Content.ReadAsStringAsync(stop)}");
        }

        return await response.Content.ReadFromJsonAsync(WireJsonContext.Default.CertificateResponse, stop) ?? throw new InvalidOperationException("the CA sent no certificate");
    }

    /// <summary>
    /// When to renew: at the CA's renewal fraction of the lifetime from now, when it arrived. Not from the certificate's
    /// notBefore, which the CA backdates for clock skew (with a short lifetime that would renew at once).
    /// </summary>
    private DateTimeOffset RenewAt(CertificateResponse response)
    {
        var policy = new CertificatePolicy { RenewalFraction = response.RenewalFraction };
        return policy.RenewAt(_time.GetUtcNow(), response.NotAfter);
    }

    private static string Csr(ECDsa key, SpiffeId id)
    {
        var request = new CertificateRequest(new X500DistinguishedName(""), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(id.ToString()));
        request.CertificateExtensions.Add(san.Build(critical: true));
        return request.CreateSigningRequestPem();
    }

    [LoggerMessage(EventId = 4301, Level = LogLevel.Warning, Message = "Certificate request failed, retrying: {Reason}")]
    private static partial void LogFailed(ILogger log, string reason);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Information, Message = "The CA signs with a new root ({Root}): renewing every certificate now")]
    private static partial void LogRootRotated(ILogger log, string root);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Information, Message = "Certificate for {Identity} valid until {NotAfter:u}")]
    private static partial void LogIssued(ILogger log, string identity, DateTimeOffset notAfter);
}

namespace Trellis.Agent.Replicas;

/// <summary>
/// Sends each request to the control-plane replica in use and moves to the next one when a
/// connection to it cannot be made, so an agent, a gateway or the CLI given
/// <c>--server a,b,c</c> keeps working while any replica lives. Only a failure to connect moves on:
/// nothing was sent then, so resending cannot apply anything twice. A replica that answers, even
/// with an error, is the answer.
/// </summary>
public sealed class ReplicaFailoverHandler : DelegatingHandler
{
    private readonly Uri[] _replicas;
    private int _current;

    public ReplicaFailoverHandler(IReadOnlyList<Uri> replicas, HttpMessageHandler inner)
        : base(inner)
    {
        if (replicas.Count == 0)
        {
            throw new ArgumentException("at least one replica is needed", nameof(replicas));
        }

        _replicas = [.. replicas];
    }

    /// <summary>The replica requests go to now.</summary>
    public Uri Current => _replicas[Volatile.Read(ref _current) % _replicas.Length];

    /// <summary>
    /// A handler for clients of the control plane: no proxy, a dead host is given up on in seconds, not the OS's minutes,
    /// and an https API's certificate is checked against <paramref name="trust"/> (the system's roots without it).
    /// </summary>
    public static ReplicaFailoverHandler Create(IReadOnlyList<Uri> replicas, Trellis.Api.Access.ControlPlaneTrust? trust = null)
    {
        var handler = Trellis.Proxy.Capture.OwnTraffic.Apply(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(3) });
        return new(replicas, trust?.Apply(handler) ?? handler);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var pathAndQuery = request.RequestUri is { IsAbsoluteUri: true } uri ? uri.PathAndQuery : request.RequestUri?.OriginalString ?? "/";
        for (var attempt = 0; ; attempt++)
        {
            var index = Volatile.Read(ref _current);
            request.RequestUri = new Uri(_replicas[index % _replicas.Length], pathAndQuery);
            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e) when (attempt + 1 < _replicas.Length && e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
            {
                Interlocked.CompareExchange(ref _current, index + 1, index);
            }
        }
    }
}

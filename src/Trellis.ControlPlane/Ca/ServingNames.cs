using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// The DNS names and IP addresses a server certificate of the control plane's own names (the API's and the push
/// stream's, <see cref="ApiServer.ApiTls"/>): whatever a client may type to reach it, so that TLS's host name check
/// passes for every one of them and for nothing else.
/// </summary>
public sealed record ServingNames(IReadOnlyList<string> DnsNames, IReadOnlyList<IPAddress> Addresses)
{
    /// <summary>
    /// The names for servers listening on <paramref name="endpoints"/>: loopback and <c>localhost</c> always, this
    /// host's name, each endpoint's address, every address of this host when one listens on a wildcard, and the
    /// operator's <paramref name="extra"/> names (k3s's <c>--tls-san</c>: a load balancer's name, a DNS alias; an IP
    /// literal there is an address).
    /// </summary>
    public static ServingNames For(IEnumerable<IPEndPoint> endpoints, IEnumerable<string> extra)
    {
        var dns = new List<string> { "localhost" };
        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        var host = Dns.GetHostName();
        if (Uri.CheckHostName(host) == UriHostNameType.Dns)
        {
            dns.Add(host);
        }

        foreach (var endpoint in endpoints)
        {
            if (endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                addresses.AddRange(HostAddresses());
            }
            else
            {
                addresses.Add(endpoint.Address);
            }
        }

        foreach (var name in extra)
        {
            if (IPAddress.TryParse(name, out var address))
            {
                addresses.Add(address);
            }
            else
            {
                dns.Add(name);
            }
        }

        return new ServingNames(
            [.. dns.Distinct(StringComparer.OrdinalIgnoreCase)],
            [.. addresses.Distinct()]);
    }

    /// <summary>A name the operator may give (<c>--tls-san</c>): an IP literal or a DNS name, with at most one leading <c>*.</c> label.</summary>
    public static string? Problem(string name)
    {
        if (IPAddress.TryParse(name, out _))
        {
            return null;
        }

        var host = name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
        return Uri.CheckHostName(host) == UriHostNameType.Dns ? null : $"\"{name}\" is neither an IP address nor a DNS name";
    }

    internal void AddTo(SubjectAlternativeNameBuilder san)
    {
        foreach (var name in DnsNames)
        {
            san.AddDnsName(name);
        }

        foreach (var address in Addresses)
        {
            san.AddIpAddress(address);
        }
    }

    /// <summary>Every unicast address of this host's interfaces that are up (what a wildcard listener answers on).</summary>
    private static IEnumerable<IPAddress> HostAddresses() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily is AddressFamily.InterNetwork || (a.AddressFamily is AddressFamily.InterNetworkV6 && !a.IsIPv6LinkLocal));
}

using System.Net;
using System.Text.RegularExpressions;
using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Store;

namespace Trellis.Cli.Roles;

/// <summary>
/// Plain sentences for a listener that could not bind, naming the listener, its address and the reason,
/// as nginx (<c>bind() to 0.0.0.0:80 failed (98: Address already in use)</c>) and Envoy do before they exit.
/// </summary>
public static partial class ListenFailures
{
    /// <summary>The control plane's API or push listener (Kestrel reports "Failed to bind to address http://A:P: ...").</summary>
    public static string ControlPlane(IOException e, IPEndPoint api, IPEndPoint push)
    {
        var (what, endpoint, option) = e.Message.Contains(api.ToString(), StringComparison.Ordinal) ? ("API", api, "--api-address")
            : e.Message.Contains(push.ToString(), StringComparison.Ordinal) ? ("push stream", push, "--push-address")
            : ((string?)null, (IPEndPoint?)null, (string?)null);
        return what is null
            ? $"the control plane cannot listen: {e.Message}" // another of its listeners (the broker ingress): Kestrel's words name it
            : $"the control plane {what} cannot listen on {endpoint}: {Reason(e)}. Is another `trellis up` running? ({option} picks another address)";
    }

    /// <summary>
    /// The gateway's NACK errors for listeners that could not bind (the proxy writes
    /// <c>listeners[i]: cannot listen on A:P: reason</c>), each naming the listener and the resources that asked for
    /// its port; null when the NACK is about something else.
    /// </summary>
    public static IReadOnlyList<string>? Gateway(IReadOnlyList<string> errors, ProxySnapshot rejected, StoreSnapshot store)
    {
        var lines = new List<string>();
        foreach (var error in errors)
        {
            var m = CannotListen().Match(error);
            if (!m.Success)
            {
                continue;
            }

            var index = int.Parse(m.Groups["index"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var listener = index < rejected.Listeners.Count ? rejected.Listeners[index] : null;
            var owners = listener is null ? "" : Owners(listener, store);
            lines.Add($"the ingress gateway cannot listen on {m.Groups["endpoint"].Value}{(listener is null ? "" : $" (listener {listener.Name}{owners})")}: {m.Groups["reason"].Value}");
        }

        return lines.Count > 0 ? lines : null;
    }

    private static string Owners(ListenerConfig listener, StoreSnapshot store)
    {
        var names = store.List(ResourceKinds.IstioNetworking, "Gateway")
            .Where(g => g.Resource.Spec is GatewaySpec spec && spec.Servers.Any(s => s.Port.Number == listener.Port))
            .Select(g => $"Gateway {g.Resource.Key.Namespace}/{g.Resource.Metadata.Name}")
            .ToList();
        return listener.Name.StartsWith("gatewayapi/", StringComparison.Ordinal) || names.Count == 0 ? "" : ", from " + string.Join(", ", names);
    }

    private static string Reason(IOException e)
    {
        var message = (e.InnerException ?? e).Message.TrimEnd('.');
        var colon = message.LastIndexOf(": ", StringComparison.Ordinal);
        return colon >= 0 && e.InnerException is null ? message[(colon + 2)..] : message;
    }

    [GeneratedRegex(@"^listeners\[(?<index>\d+)\]: cannot listen on (?<endpoint>\S+): (?<reason>.*)$")]
    private static partial Regex CannotListen();
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Trellis.Api;
using Trellis.ControlPlane.GatewayApi;
using Trellis.ControlPlane.Store;

namespace Trellis.Cli.Roles;

/// <summary>
/// What <c>trellis up</c> finds in its data directory, and <c>--fresh</c>: a new user must see that old state
/// came back (and how to start without it) rather than find last session's pods running unannounced.
/// </summary>
public static class UpState
{
    /// <summary>The control plane's folder in the data directory: the store. The agent's folder stays (it holds the process records that let a restart reap workloads a killed predecessor left running).</summary>
    public static string StoreDirectory(string data) => Path.Combine(data, "controlplane");

    /// <summary>
    /// The objects that were stored before <paramref name="startedAt"/>, i.e. restored from disk, without the
    /// GatewayClasses the control plane creates itself at every start.
    /// </summary>
    public static IReadOnlyList<Resource> Restored(StoreSnapshot snapshot, DateTimeOffset startedAt) =>
        snapshot.Objects.Values
            .Select(o => o.Resource)
            .Where(r => r.Metadata.CreationTimestamp is { } created && created < startedAt)
            .Where(r => !(r.Kind == "GatewayClass" && r.Group == ResourceKinds.GatewayApi && GatewayApiController.DefaultClasses.Contains(r.Metadata.Name)))
            .ToList();

    /// <summary>"restored 23 resources from .trellis/ (Deployment 6, Service 6, ...)".</summary>
    public static string Describe(IReadOnlyList<Resource> restored, string dataDir)
    {
        var byKind = restored
            .GroupBy(r => r.Kind == "Service" && r.Group == ResourceKinds.KnativeServing ? "Service (Knative)" : r.Kind)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {g.Count()}"));
        var shown = dataDir.EndsWith('/') ? dataDir : dataDir + "/";
        return string.Create(CultureInfo.InvariantCulture,
            $"restored {restored.Count} resource{(restored.Count == 1 ? "" : "s")} from {shown} ({string.Join(", ", byKind)}); `trellis up --fresh` starts empty");
    }

    /// <summary>
    /// <c>--fresh</c>: removes the stored resources before the control plane opens the store. Refused while the
    /// API address is taken (most likely another <c>trellis up</c> on this data directory, whose store this would pull away).
    /// </summary>
    public static string? Clear(string data, IPEndPoint api)
    {
        try
        {
            using var probe = new Socket(api.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(api);
        }
        catch (SocketException e)
        {
            return $"--fresh: not clearing {data}: the API address {api} is in use ({e.Message}); is another `trellis up` running?";
        }

        var store = StoreDirectory(data);
        if (Directory.Exists(store))
        {
            Directory.Delete(store, recursive: true);
        }

        return null;
    }
}

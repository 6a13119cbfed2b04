using System.Globalization;
using System.Text;
using Trellis.Api;

namespace Trellis.ControlPlane.Store.Etcd;

/// <summary>
/// Where Trellis keeps things in etcd, and how a resource is encoded there. Everything lives under
/// <c>/trellis/</c>, so one etcd cluster can be shared with other users.
/// </summary>
public static class EtcdKeys
{
    public const string Root = "/trellis/";

    /// <summary>Resources: <c>/trellis/resources/&lt;group or core&gt;/&lt;kind&gt;/&lt;namespace&gt;/&lt;name&gt;</c>.</summary>
    public const string Resources = Root + "resources/";

    /// <summary>Registry: one key per node, attached to the node's lease.</summary>
    public const string Nodes = Root + "registry/nodes/";

    /// <summary>The leader key, attached to the leader's lease (leadership/).</summary>
    public const string Leader = Root + "leader";

    public static string Resource(ResourceKey key) =>
        $"{Resources}{(key.Group.Length == 0 ? "core" : key.Group)}/{key.Kind}/{key.Namespace}/{key.Name}";

    /// <summary>The stored JSON carries no resourceVersion: it is the key's mod_revision, known only once etcd has committed the write.</summary>
    public static byte[] Encode(Resource resource) =>
        Encoding.UTF8.GetBytes(ResourceWriter.ToJson(resource with { Metadata = resource.Metadata with { ResourceVersion = null } }));

    public static StoredResource Decode(ReadOnlySpan<byte> value, long modRevision, string key)
    {
        var read = ResourceReader.Read(Encoding.UTF8.GetString(value), key);
        if (read.HasErrors || read.Resources.Count != 1)
        {
            throw new InvalidDataException($"etcd key {key} holds an unreadable resource: {string.Join("; ", read.Diagnostics)}");
        }

        return At(read.Resources[0], modRevision);
    }

    public static StoredResource At(Resource resource, long revision) =>
        new(resource with { Metadata = resource.Metadata with { ResourceVersion = revision.ToString(CultureInfo.InvariantCulture) } }, revision);
}

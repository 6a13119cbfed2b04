using System.Text;

namespace Trellis.Proxy.Http1;

/// <summary>
/// The Host and path strings routing needs, kept per connection: a connection's requests mostly
/// repeat them, so a request usually builds neither string. Not thread-safe: one reader at a time.
/// </summary>
internal sealed class RoutingStrings
{
    private string _host = string.Empty;
    private string _path = "/";

    public string Host(ReadOnlySpan<byte> bytes)
    {
        if (!Ascii.Equals(bytes, _host))
        {
            _host = Encoding.Latin1.GetString(bytes);
        }

        return _host;
    }

    public string Path(ReadOnlySpan<byte> bytes)
    {
        if (!Ascii.Equals(bytes, _path))
        {
            _path = Encoding.ASCII.GetString(bytes);
        }

        return _path;
    }
}

using System.Text;

namespace Trellis.Proxy.Http1;

/// <summary>Whether a held upstream response head has a field of a name (the retry policy's <c>retriable-headers</c>), without allocating.</summary>
internal static class ResponseFieldLookup
{
    public static bool Contains(UpstreamConnection response, ReadOnlySpan<char> name)
    {
        var buffer = response.Buffer.AsSpan(response.Start, response.Head.Length);
        foreach (var field in response.Head.Fields.AsSpan())
        {
            var fieldName = field.Name(buffer);
            if (fieldName.Length == name.Length && Ascii.EqualsIgnoreCase(fieldName, name))
            {
                return true;
            }
        }

        return false;
    }
}

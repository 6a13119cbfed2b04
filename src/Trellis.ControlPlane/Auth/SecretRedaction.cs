using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Trellis.ControlPlane.Auth;

/// <summary>
/// <c>view</c> reads everything but Secret data: a Secret it reads keeps its metadata and type and loses <c>data</c>
/// and <c>stringData</c>. One function, used by every read of resources (get, list, watch).
/// </summary>
public static class SecretRedaction
{
    public static bool Applies(HttpContext context) => ApiPrincipal.Of(context) is not { SeesSecretData: true };

    /// <summary>Removes the data of <paramref name="resource"/> when it is a core Secret; returns it.</summary>
    public static JsonObject Redact(JsonObject resource)
    {
        if ((string?)resource["kind"] == "Secret" && (string?)resource["apiVersion"] == "v1")
        {
            resource.Remove("data");
            resource.Remove("stringData");
        }

        return resource;
    }
}

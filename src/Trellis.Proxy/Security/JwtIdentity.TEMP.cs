using System.Text.Json;

namespace Trellis.Proxy.Security;

// TEMPORARY: the security branch's RequestIdentity.cs defines this record; deleted when that lands.
internal sealed record JwtIdentity(string Principal, IReadOnlyList<string> Audiences, string Presenter, JsonElement Claims);

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Cli.Client;

namespace Trellis.Cli.Verbs;

/// <summary>How the live views (stat, edges, tap, top) print numbers, as Linkerd's viz prints them.</summary>
internal static class ViewFormat
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>text or json; anything else is a usage error.</summary>
    public static string Output(string? value) => (value ?? "text") switch
    {
        "text" or "table" => "text",
        "json" => "json",
        var other => throw new InputException($"--output {other}: expected text or json"),
    };

    public static string Percent(double? share) => share is { } s ? s.ToString("0.00%", CultureInfo.InvariantCulture) : "-";

    public static string Rate(double rps, long requests) => requests == 0 ? "-" : rps.ToString("0.0", CultureInfo.InvariantCulture) + "rps";

    /// <summary>Milliseconds, with decimals below ten (calls on one host often take less than one).</summary>
    public static string Millis(double? ms) => ms switch
    {
        null => "-",
        < 10 => ms.Value.ToString("0.##", CultureInfo.InvariantCulture) + "ms",
        _ => ms.Value.ToString("0", CultureInfo.InvariantCulture) + "ms",
    };

    /// <summary>The control plane's answer as JSON, or its failure as an error.</summary>
    public static JsonNode Json(ApiResponse response)
    {
        if (!response.Ok || response.Json is null)
        {
            throw new ApiException(response.Status, response.Message);
        }

        return response.Json;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Api.Explain;
using Trellis.Api.Snapshots;
using Trellis.Cli.Client;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>route explain --from NAME [-X METHOD] [-H 'k: v'] URL</c>: how the proxy of a gateway or workload routes a request,
/// from the snapshot it is serving (docs/route-explain.md). Nothing is sent to the destination.
/// </summary>
public static class RouteVerb
{
    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "A gateway proxy (gateway/ingress, or ingress) or a workload (pod or deployment) whose outbound proxy to ask", Required = true };
        var method = new Option<string>("--request", "-X") { Description = "HTTP method (default GET)", DefaultValueFactory = _ => "GET" };
        var headers = new Option<string[]>("--header", "-H") { Description = "A request header, 'name: value' (repeatable)" };
        var output = new Option<string>("--output", "-o") { Description = "text (default) or json" };
        var url = new Argument<string>("url") { Description = "The request URL, e.g. http://reviews:9080/reviews/1 or http://localhost:8080/productpage" };
        var explain = new Command("explain", "Explain how a proxy routes a request: listener, the rule that matched and why earlier ones did not, destinations, endpoints, policy")
        {
            from, method, headers, output, url,
        };
        explain.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var format = parse.GetValue(output) ?? "text";
            if (format is not ("text" or "json"))
            {
                throw new InputException($"--output {format}: expected text or json");
            }

            var path = new StringBuilder("/debug/explain?from=").Append(Uri.EscapeDataString(parse.GetValue(from)!))
                .Append("&method=").Append(Uri.EscapeDataString(parse.GetValue(method)!))
                .Append("&url=").Append(Uri.EscapeDataString(parse.GetValue(url)!));
            foreach (var header in parse.GetValue(headers) ?? [])
            {
                if (header.IndexOf(':', StringComparison.Ordinal) <= 0)
                {
                    throw new InputException($"-H \"{header}\": expected 'name: value'");
                }

                path.Append("&header=").Append(Uri.EscapeDataString(header));
            }

            var response = await client.SendAsync(HttpMethod.Get, path.ToString(), null, ct);
            var explanation = response.Json is JsonObject json && json.ContainsKey("outcome")
                ? JsonSerializer.Deserialize<RouteExplanation>(response.Text, WireJson.Options)
                : null;
            if (explanation is null)
            {
                throw new ApiException(response.Status, response.Message);
            }

            if (format == "json")
            {
                Console.WriteLine(response.Json!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                Console.Write(Render(explanation));
            }

            return explanation.Outcome == "error" ? ExitCodes.Rejected : ExitCodes.Ok;
        }));
        return new Command("route", "Routing tools") { explain };
    }

    /// <summary>The explanation as text, one fact a line, the policy written as Istio names it.</summary>
    public static string Render(RouteExplanation e)
    {
        var s = new StringBuilder();
        if (e.Outcome == "error")
        {
            return $"error: {e.Error}\n";
        }

        Line(s, "proxy", $"{e.Proxy} (snapshot {e.SnapshotVersion})");
        Line(s, "listener", $"{e.Listener} ({e.ListenerKind?.ToString().ToLowerInvariant()})" + (e.ListenerRateLimit is { } l ? $", rate limit {Bucket(l)}" : ""));
        Line(s, "request", $"{e.Method} {e.Authority}{e.Path}{e.Query}");
        Line(s, "virtual host", e.VirtualHost ?? "none matches the authority (404 NR)");
        if (e.Rules is { Count: > 0 } rules)
        {
            s.AppendLine("rules:");
            foreach (var rule in rules)
            {
                s.Append("  ").Append(rule.Matched ? "MATCH " : "miss  ").Append(rule.Route).Append(": ").AppendLine(rule.Reason);
            }
        }

        Line(s, "outcome", e.Outcome switch
        {
            "no-route" => "no route matches (404 NR)",
            "no-virtual-host" => "no virtual host (404 NR)",
            "redirect" => $"redirect {e.Route?.Redirect?.StatusCode} ({Redirect(e.Route!.Redirect!)})",
            "direct-response" => $"direct response {e.Route?.DirectResponse?.Status}" + (e.Route?.DirectResponse?.Body is { } body ? $" ({body.Length} bytes)" : ""),
            _ => "forward",
        });
        if (e.Route is not { } route)
        {
            return s.ToString();
        }

        if (e.Outcome == "forward")
        {
            Line(s, "timeout", route.Timeout is { } t ? Duration(t) : "none");
            Line(s, "retries", route.Retry is { } r ? Retry(r) : "none");
            if (route.Rewrite is { } w)
            {
                Line(s, "rewrite", string.Join(", ", new[] { w.UriPrefix is null ? null : $"uri prefix to {w.UriPrefix}", w.UriRegex is null ? null : $"uri {w.UriRegex.Match} -> {w.UriRegex.Rewrite}", w.Authority is null ? null : $"authority {w.Authority}" }.Where(x => x is not null)));
            }

            Line(s, "mirrors", route.Mirrors is { Count: > 0 } m ? string.Join(", ", m.Select(x => $"{x.Cluster} ({Percent(x.Percentage)})")) : "none");
        }

        Line(s, "fault", route.Fault is { } f ? Fault(f) : "none");
        if (route.Cors is { } cors)
        {
            Line(s, "cors", $"origins {string.Join(" ", cors.AllowOrigins.Select(o => $"{o.Kind.ToString().ToLowerInvariant()}:{o.Value}"))}" + (cors.AllowMethods is { } am ? $", methods {string.Join(",", am)}" : "") + (cors.ForwardUnmatchedPreflights ? "" : ", unmatched preflights answered"));
        }

        if (route.RateLimit is { } limit)
        {
            Line(s, "rate limit", Bucket(limit));
        }

        foreach (var d in e.Destinations ?? [])
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"destination {d.ClusterName}: weight {d.Weight} ({Percent(d.Share)})");
            if (d.Cluster is { } c)
            {
                s.Append("  balancing ").AppendLine(c.ConsistentHash is { } h ? $"consistent hash by {h.Key.ToString().ToLowerInvariant()} {h.Name} ({h.Algorithm})".Replace("  ", " ", StringComparison.Ordinal) : c.LoadBalancer.ToString());
                if (c.ConnectionPool is { } p)
                {
                    s.Append("  connection pool ").AppendLine(Pool(p));
                }

                if (c.OutlierDetection is { } o)
                {
                    s.AppendLine(CultureInfo.InvariantCulture, $"  outlier detection {o.Consecutive5xxErrors} consecutive 5xx, {o.ConsecutiveGatewayErrors} gateway errors, every {Duration(o.Interval)}, eject {Duration(o.BaseEjectionTime)} x times, at most {o.MaxEjectionPercent}%");
                }
            }

            if (d.Endpoints.Count == 0)
            {
                s.AppendLine("  no endpoints (503 UH)");
            }

            foreach (var ep in d.Endpoints)
            {
                var state = ep.Outlier is null ? "" : ep.Outlier.Ejected ? $"  EJECTED until {ep.Outlier.EjectedUntil:O}" : "  healthy";
                var labels = ep.Labels is null ? "" : "  " + string.Join(",", ep.Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
                s.AppendLine(CultureInfo.InvariantCulture, $"  endpoint {ep.Address}:{ep.Port}{labels}  active {ep.ActiveRequests}{state}");
            }
        }

        return s.ToString();
    }

    private static void Line(StringBuilder s, string name, string value) => s.Append(name).Append(':').Append(' ', Math.Max(1, 14 - name.Length)).AppendLine(value);

    private static string Retry(RetryConfig r)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{r.Attempts} on {string.Join(",", r.RetryOn ?? [])}");
        if (r.RetriableStatusCodes is { Count: > 0 } codes)
        {
            text.Append(" (statuses ").Append(string.Join(",", codes)).Append(')');
        }

        if (r.PerTryTimeout is { } perTry)
        {
            text.Append(", per try ").Append(Duration(perTry));
        }

        return text.Append(r.RetryOnExplicit ? "" : " (Istio's default; non-idempotent requests only before they reach the upstream)").ToString();
    }

    private static string Fault(FaultConfig f) => string.Join("; ", new[]
    {
        f.Delay is { } d ? $"delay {Duration(d.FixedDelay)} for {Percent(d.Percentage)}" : null,
        f.Abort is { } a ? $"abort {(a.HttpStatus is { } h ? h.ToString(CultureInfo.InvariantCulture) : "grpc " + a.GrpcStatus)} for {Percent(a.Percentage)}" : null,
    }.Where(x => x is not null));

    private static string Pool(ConnectionPoolConfig p) => string.Join(", ", new[]
    {
        p.MaxConnections is { } c ? $"max connections {c}" : null,
        p.MaxPendingRequests is { } q ? $"max pending {q}" : null,
        p.MaxRequests is { } r ? $"max requests {r}" : null,
        p.MaxRetries is { } t ? $"max retries {t}" : $"retry budget {Percent(p.RetryBudgetPercent)} (min {p.RetryBudgetMinConcurrency})",
        p.ConnectTimeout is { } ct ? $"connect timeout {Duration(ct)}" : null,
    }.Where(x => x is not null));

    private static string Redirect(RedirectConfig r) => string.Join(" ", new[] { r.Scheme, r.Authority, r.Port?.ToString(CultureInfo.InvariantCulture), r.Uri }.Where(x => x is not null));

    private static string Bucket(RateLimitConfig l) => $"{l.MaxTokens} tokens, {l.TokensPerFill} every {Duration(l.FillInterval)}";

    private static string Percent(double p) => p.ToString("0.##", CultureInfo.InvariantCulture) + "%";

    private static string Duration(TimeSpan t) => t.TotalSeconds >= 1 ? t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s" : t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
}

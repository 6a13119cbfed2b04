using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>invoke NAME</c>: calls a Knative Service through the ingress gateway with its URL's Host, as
/// <c>curl -H 'Host: hello.default.example.com' http://localhost:8080/</c> would, and prints the answer.
/// </summary>
public static class InvokeVerb
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "Knative Service name" };
        var ns = Common.Namespace();
        var gateway = new Option<string>("--gateway") { Description = "Ingress gateway URL", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var path = new Option<string>("--path") { Description = "Request path", DefaultValueFactory = _ => "/" };
        var data = new Option<string?>("--data", "-d") { Description = "Request body; sends a POST" };
        var tag = new Option<string?>("--tag") { Description = "Call the revision with this traffic tag" };
        var isAsync = new Option<bool>("--async") { Description = "Queue the call (OpenFaaS async): answers with a call id at once; see trellis get calls" };
        var callback = new Option<string?>("--callback-url") { Description = "With --async: where the result is posted (X-Callback-Url)" };
        var eventing = new Option<string>("--eventing") { Description = "With --async: the eventing address that takes /async-function/ calls", DefaultValueFactory = _ => "http://127.0.0.1:15080" };
        var command = new Command("invoke", "Call a Knative Service through the ingress gateway") { name, ns, gateway, path, data, tag, isAsync, callback, eventing };
        command.SetAction((parse, ct) => Common.RunAsync(parse, async client =>
        {
            var service = await client.SendAsync(HttpMethod.Get, $"/apis/serving.knative.dev/v1/namespaces/{parse.GetValue(ns)}/services/{parse.GetValue(name)}", null, ct);
            if (!service.Ok)
            {
                throw new ApiException(service.Status, service.Message);
            }

            var url = Columns.Str(service.Json?["status"]?["url"]);
            if (parse.GetValue(tag) is { } t)
            {
                url = (service.Json?["status"]?["traffic"] as System.Text.Json.Nodes.JsonArray)?.Select(x => x?["tag"]?.GetValue<string>() == t ? Columns.Str(x?["url"]) : null).FirstOrDefault(u => u is not null)
                    ?? throw new ApiException(System.Net.HttpStatusCode.NotFound, $"no traffic target tagged {t}");
            }

            if (!Uri.TryCreate(url, UriKind.Absolute, out var target))
            {
                throw new ApiException(System.Net.HttpStatusCode.Conflict, $"service {parse.GetValue(name)} has no URL yet (is it Ready? trellis get ksvc)");
            }

            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromMinutes(5) };
            var body = parse.GetValue(data);
            if (parse.GetValue(isAsync))
            {
                return await QueueAsync(http, new Uri(parse.GetValue(eventing)!), $"{parse.GetValue(name)}.{parse.GetValue(ns)}", parse.GetValue(path)!, body, parse.GetValue(callback), ct);
            }

            using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, new Uri(new Uri(parse.GetValue(gateway)!), parse.GetValue(path)));
            request.Headers.Host = target.Host;
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
            }

            var watch = Stopwatch.StartNew();
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, ct);
            }
            catch (HttpRequestException e)
            {
                throw new Client.UnreachableException(new Uri(parse.GetValue(gateway)!), e);
            }

            using (response)
            {
                Console.Write(await response.Content.ReadAsStringAsync(ct));
                Console.Error.WriteLine($"{(int)response.StatusCode} {response.ReasonPhrase} in {watch.ElapsedMilliseconds} ms via {target.Host}");
                return response.IsSuccessStatusCode ? ExitCodes.Ok : ExitCodes.Rejected;
            }
        }));
        return command;
    }

    /// <summary><c>--async</c>: <c>POST /async-function/{name}.{namespace}{path}</c>; prints the call id the queue answers with.</summary>
    private static async Task<int> QueueAsync(HttpClient http, Uri eventing, string function, string path, string? body, string? callback, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(eventing, $"async-function/{function}/{path.TrimStart('/')}".TrimEnd('/')))
        {
            Content = new StringContent(body ?? "", Encoding.UTF8, "text/plain"),
        };
        if (callback is not null)
        {
            request.Headers.Add("X-Callback-Url", callback);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new Client.UnreachableException(eventing, e);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"error: {(int)response.StatusCode} {text}");
                return ExitCodes.Rejected;
            }

            Console.WriteLine(text);
            Console.Error.WriteLine($"queued (202); trellis get calls shows its progress");
            return ExitCodes.Ok;
        }
    }
}

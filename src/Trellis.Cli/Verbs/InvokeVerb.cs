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
        var command = new Command("invoke", "Call a Knative Service through the ingress gateway") { name, ns, gateway, path, data, tag };
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
}

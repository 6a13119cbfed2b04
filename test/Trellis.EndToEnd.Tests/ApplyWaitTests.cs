using System.Net;
using System.Text.RegularExpressions;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// kubectl habits (issue 17): <c>apply --wait</c> returns once what was applied answers (a Knative Service's first
/// request succeeds right after it, not <c>no route</c>) and fails with the reason when it cannot become ready;
/// <c>get all</c> lists the common kinds; <c>describe</c> shows conditions and events.
/// </summary>
public sealed partial class ApplyWaitTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-wait-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(30) };
    private TrellisProcess _up = null!;
    private string _server = "";
    private int _gateway;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _gateway = FreePorts.Next();
        var api = FreePorts.Next();
        _server = $"http://127.0.0.1:{api}";
        _up = await FunctionsUp.StartAsync(_dir, _gateway, api);
    }

    public async Task DisposeAsync()
    {
        await _up.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task ApplyWait_KnativeService_FirstRequestAfterItSucceeds_GetAllAndDescribeShowIt()
    {
        var apply = await TrellisProcess.RunAsync(_server, "apply", "--wait", "-f", "samples/functions/hello.yaml");
        Assert.True(apply.Exit == 0, apply.Stdout + apply.Stderr + _up.Output);
        Assert.Contains("ready after ", apply.Stdout, StringComparison.Ordinal);

        // No polling: the one request right after the command must be answered by the function.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_gateway}/");
        request.Headers.Host = "hello.default.example.com";
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hello world! (hello-00001)\n", await response.Content.ReadAsStringAsync());

        var all = await TrellisProcess.RunAsync(_server, "get", "all");
        Assert.True(all.Exit == 0, all.Stderr);
        foreach (var name in new[] { "service.serving.knative.dev/hello", "configuration.serving.knative.dev/hello", "revision.serving.knative.dev/hello-00001", "route.serving.knative.dev/hello", "pod/hello-00001" })
        {
            Assert.Contains(name, all.Stdout, StringComparison.Ordinal);
        }

        var describe = await TrellisProcess.RunAsync(_server, "describe", "ksvc", "hello");
        Assert.True(describe.Exit == 0, describe.Stderr);
        Assert.Contains("Conditions:", describe.Stdout, StringComparison.Ordinal);
        Assert.Matches(ReadyTrue(), describe.Stdout);
        Assert.Matches(ReadyEvent(), describe.Stdout);

        var events = await TrellisProcess.RunAsync(_server, "get", "events");
        Assert.Contains("pod/hello-00001-deployment-", events.Stdout, StringComparison.Ordinal);
        Assert.Contains("Instance started on node local", events.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyWait_ServiceThatCannotStart_FailsWithTheReason()
    {
        var crash = Path.Combine(_dir, "crash.yaml");
        await File.WriteAllTextAsync(crash, """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: crash}
            spec:
              template:
                spec:
                  containers:
                  - command: ["sh", "-c", "echo boom >&2; exit 3"]
            """);

        var apply = await TrellisProcess.RunAsync(_server, "apply", "--wait", "--timeout", "50s", "-f", crash);

        Assert.True(apply.Exit == 1, $"exit {apply.Exit}: {apply.Stdout}{apply.Stderr}");
        Assert.Contains("error: service.serving.knative.dev/crash: Ready is False", apply.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("timed out", apply.Stderr, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"(?m)^  Ready\s+True\b")]
    private static partial Regex ReadyTrue();

    // Events:, then a row such as "  3s   Normal   Ready   service/hello   Ready is True".
    [GeneratedRegex(@"(?ms)^Events:\n.*^  \S+\s+Normal\s+Ready\s+service/hello\s+Ready is True$")]
    private static partial Regex ReadyEvent();
}

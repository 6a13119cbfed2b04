using System.Net;
using System.Text.Json.Nodes;

namespace Trellis.ControlPlane.Tests.ApiServer;

public sealed class ApplyEndpointTests
{
    [Fact]
    public async Task Apply_ValidFile_StoresAndServesIt()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var (status, body) = await cp.PostAsync("/apply?source=rules.yaml", TestResources.ReviewsService + "\n---\n" + TestResources.ReviewsRule);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["created", "created"], body!["results"]!.AsArray().Select(r => (string)r!["change"]!));
        var rule = JsonNode.Parse(await cp.Http.GetStringAsync("/apis/networking.istio.io/v1/namespaces/default/destinationrules/reviews"))!;
        Assert.Equal("reviews", (string)rule["spec"]!["host"]!);
        var list = JsonNode.Parse(await cp.Http.GetStringAsync("/apis/networking.istio.io/v1beta1/destinationrules"))!;
        Assert.Single(list["items"]!.AsArray());
    }

    /// <summary>A dry run says what the write would do, as kubectl's does: unchanged, configured or created (trellis up relies on it).</summary>
    [Fact]
    public async Task Apply_DryRun_ReportsUnchangedConfiguredAndCreated()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await cp.PostAsync("/apply", TestResources.ReviewsService + "\n---\n" + TestResources.ReviewsRule);
        var edited = TestResources.ReviewsRule.Replace("- {name: v2", "- {name: v4", StringComparison.Ordinal);
        var before = cp.Host.Store.Snapshot;

        var (status, body) = await cp.PostAsync("/apply?dryRun=true", TestResources.ReviewsService + "\n---\n" + edited + "\n---\n"
            + TestResources.ReviewsService.Replace("reviews", "ratings", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["unchanged", "configured", "created"], body!["results"]!.AsArray().Select(r => (string)r!["change"]!));
        Assert.Same(before, cp.Host.Store.Snapshot);
    }

    public static TheoryData<string, string, string> BadInputs => new()
    {
        { "malformed YAML", "apiVersion: v1\nkind: Service\nmetadata: {name: x\n", "TRL0001" },
        { "unknown field", TestResources.ReviewsRule.Replace("host: reviews", "host: reviews\n  hostz: x", StringComparison.Ordinal), "TRL0002" },
        { "unknown kind", "apiVersion: networking.istio.io/v1\nkind: VirtualServer\nmetadata: {name: x}\nspec: {}\n", "TRL0005" },
        { "wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: many\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec: {containers: [{name: c, command: [x]}]}\n", "TRL0003" },
        { "dangling subset", TestResources.VirtualService("reviews", "reviews", "v9"), "IST0101" },
        { "half-valid multi-document", TestResources.ReviewsService + "\n---\n" + TestResources.ReviewsRule.Replace("- {name: v2", "- {nme: v2", StringComparison.Ordinal), "TRL0002" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Apply_BadInput_RejectsWithCodeAndChangesNothing(string scenario, string yaml, string code)
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await cp.PostAsync("/apply", TestResources.ReviewsService.Replace("reviews", "ratings", StringComparison.Ordinal));
        var before = cp.Host.Store.Snapshot;

        var (status, body) = await cp.PostAsync("/apply?source=bad.yaml", yaml);

        Assert.True(status == HttpStatusCode.UnprocessableEntity, $"{scenario}: {status}");
        var codes = body!["diagnostics"]!.AsArray().Select(d => (string)d!["code"]!).ToList();
        Assert.Contains(code, codes);
        Assert.Same(before, cp.Host.Store.Snapshot);
    }

    /// <summary>A metric tag expression outside what the proxies evaluate is refused with its path and position; nothing is stored.</summary>
    [Fact]
    public async Task Apply_TagOverrideExpressionNotEvaluated_RefusedAndNothingChanged()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        const string yaml = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              metrics:
              - overrides:
                - match: {metric: REQUEST_COUNT}
                  tagOverrides:
                    request_host: {value: request.host}
                    request_size: {value: "string(request.size)"}
            """;

        var (status, body) = await cp.PostAsync("/apply?source=telemetry.yaml", TestResources.ReviewsService + "\n---\n" + yaml);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var error = Assert.Single(body!["diagnostics"]!.AsArray(), d => (string)d!["severity"]! == "error");
        Assert.Equal("TRL0006", (string)error!["code"]!);
        Assert.Equal("spec.metrics[0].overrides[0].tagOverrides.request_size.value", (string)error["path"]!);
        Assert.Contains("cannot evaluate \"string(request.size)\": unsupported attribute 'request.size'", (string)error["message"]!, StringComparison.Ordinal);
        Assert.Contains("at position 8", (string)error["message"]!, StringComparison.Ordinal);
        // Neither document was stored (the controllers' own status writes may move the store meanwhile).
        Assert.DoesNotContain(cp.Host.Store.Snapshot.Objects.Values, o => o.Resource.Kind is "Telemetry" or "Service");
    }

    [Fact]
    public async Task Apply_ErrorsInTwoDocuments_ReportsAllWithLines()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var yaml = TestResources.ReviewsRule.Replace("host: reviews", "hostx: reviews", StringComparison.Ordinal) + "\n---\n"
            + TestResources.ReviewsService.Replace("port: 9080", "port: nine", StringComparison.Ordinal);

        var (_, body) = await cp.PostAsync("/apply?source=two.yaml", yaml);

        var diagnostics = body!["diagnostics"]!.AsArray();
        Assert.Contains(diagnostics, d => (string)d!["code"]! == "TRL0002" && (int)d["line"]! == 5 && (string)d["source"]! == "two.yaml");
        Assert.Contains(diagnostics, d => (string)d!["code"]! == "TRL0003" && (int)d["line"]! > 10);
    }

    /// <summary>
    /// analyze -f reports on the file: not on what was already wrong in the store, but on what the file
    /// brings about in stored resources (a subset it drops that a stored VirtualService uses).
    /// </summary>
    [Fact]
    public async Task Analyze_File_ReportsOnTheFileAndWhatItBreaksNotOnUnrelatedStoredErrors()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await cp.PostAsync("/apply", TestResources.ReviewsService + "\n---\n" + TestResources.ReviewsRule + "\n---\n" + TestResources.VirtualService("reviews", "reviews", "v1"));
        var withoutV1 = TestResources.ReviewsRule.Replace("  - {name: v1, labels: {version: v1}}\n", "", StringComparison.Ordinal);

        var (_, breaking) = await cp.PostAsync("/analyze?source=dr.yaml", withoutV1);
        Assert.Contains(breaking!["diagnostics"]!.AsArray(), d => (string)d!["code"]! == "IST0101" && (string)d["resource"]! == "VirtualService/default/reviews");

        await cp.PostAsync("/delete", TestResources.ReviewsRule); // the stored VirtualService now dangles
        var (_, unrelated) = await cp.PostAsync("/analyze?source=ratings.yaml", TestResources.ReviewsService.Replace("reviews", "ratings", StringComparison.Ordinal));
        Assert.DoesNotContain(unrelated!["diagnostics"]!.AsArray(), d => (string)d!["severity"]! != "info");
    }

    [Fact]
    public async Task Delete_File_RemovesItsObjects()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await cp.PostAsync("/apply", TestResources.ReviewsService + "\n---\n" + TestResources.ReviewsRule);

        var (status, body) = await cp.PostAsync("/delete", TestResources.ReviewsRule);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("deleted", (string)body!["results"]![0]!["change"]!);
        using var gone = await cp.Http.GetAsync("/apis/networking.istio.io/v1/namespaces/default/destinationrules/reviews");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Patch_MergePatch_ChangesOneField()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await cp.PostAsync("/apply", TestResources.ReviewsService + "\n---\n" + TestResources.ReviewsRule);

        using var request = new HttpRequestMessage(HttpMethod.Patch, "/apis/networking.istio.io/v1/namespaces/default/destinationrules/reviews")
        {
            Content = new StringContent("""{"metadata":{"labels":{"team":"books"}}}"""),
        };
        using var response = await cp.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var rule = JsonNode.Parse(await cp.Http.GetStringAsync("/apis/networking.istio.io/v1/namespaces/default/destinationrules/reviews"))!;
        Assert.Equal("books", (string)rule["metadata"]!["labels"]!["team"]!);
        Assert.Equal(3, rule["spec"]!["subsets"]!.AsArray().Count);
    }

    [Fact]
    public async Task Create_Existing_IsConflict()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await cp.PostAsync("/apply", TestResources.ReviewsService);

        var (status, body) = await cp.PostAsync("/api/v1/namespaces/default/services", TestResources.ReviewsService);

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("AlreadyExists", (string)body!["reason"]!);
    }

    [Fact]
    public async Task Watch_StreamsChangesAfterRevision()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        await cp.PostAsync("/apply", TestResources.ReviewsService);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = await cp.Http.GetAsync("/apis/networking.istio.io/v1/destinationrules?watch=true&resourceVersion=1", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        await cp.PostAsync("/apply", TestResources.ReviewsRule);
        var line = await reader.ReadLineAsync(cts.Token);

        var e = JsonNode.Parse(line!)!;
        Assert.Equal("ADDED", (string)e["type"]!);
        Assert.Equal("reviews", (string)e["object"]!["metadata"]!["name"]!);
    }
}

using Trellis.Api.Diagnostics;

namespace Trellis.Api.Tests.Validation;

/// <summary>SinkBinding (sources.knative.dev/v1): Knative's subject, sink and override rules, each error at its path with a reason.</summary>
public sealed class SinkBindingValidationTests
{
    private const string Head = "apiVersion: sources.knative.dev/v1\nkind: SinkBinding\nmetadata: {name: b, namespace: shop}\nspec:\n";
    private const string Sink = "  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}\n";
    private const string Subject = "  subject: {apiVersion: apps/v1, kind: Deployment, name: producer}\n";

    public static TheoryData<string, string, string, string> Cases => new()
    {
        { "NameAndSelector", "  subject: {apiVersion: apps/v1, kind: Deployment, name: p, selector: {matchLabels: {app: p}}}\n" + Sink, "spec.subject", "got both" },
        { "NeitherNameNorSelector", "  subject: {apiVersion: apps/v1, kind: Deployment}\n" + Sink, "spec.subject", "got neither" },
        { "NoApiVersion", "  subject: {kind: Deployment, name: p}\n" + Sink, "spec.subject.apiVersion", "apiVersion is required" },
        { "NoKind", "  subject: {apiVersion: apps/v1, name: p}\n" + Sink, "spec.subject.kind", "kind is required" },
        { "KindTrellisDoesNotRun", "  subject: {apiVersion: batch/v1, kind: Job, name: p}\n" + Sink, "spec.subject", "Job (batch/v1) cannot be bound" },
        { "OtherNamespace", "  subject: {apiVersion: apps/v1, kind: Deployment, name: p, namespace: other}\n" + Sink, "spec.subject.namespace", "\"other\" is not the SinkBinding's namespace \"shop\"" },
        { "BadName", "  subject: {apiVersion: apps/v1, kind: Deployment, name: Not_A_Name}\n" + Sink, "spec.subject.name", "not a valid name" },
        { "BadSelectorOperator", "  subject: {apiVersion: apps/v1, kind: Deployment, selector: {matchExpressions: [{key: app, operator: Near, values: [p]}]}}\n" + Sink, "spec.subject.selector.matchExpressions[0].operator", "\"Near\" is not In, NotIn" },
        { "BadSelectorLabel", "  subject: {apiVersion: serving.knative.dev/v1, kind: Service, selector: {matchLabels: {'bad key!': p}}}\n" + Sink, "spec.subject.selector.matchLabels[bad key!]", "not a valid label key" },
        { "SinkEmpty", Subject + "  sink: {}\n", "spec.sink", "one of ref or uri is required" },
        { "SinkRelativeUri", Subject + "  sink: {uri: /events}\n", "spec.sink.uri", "not an absolute http(s) URI" },
        { "OverrideUpperCase", Subject + Sink + "  ceOverrides: {extensions: {Team: a}}\n", "spec.ceOverrides.extensions[Team]", "lower-case letters and digits only" },
        { "OverrideTooLong", Subject + Sink + "  ceOverrides: {extensions: {abcdefghijklmnopqrstu: a}}\n", "spec.ceOverrides.extensions[abcdefghijklmnopqrstu]", "longer than 20 characters" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Read_BreaksARule_ReportsItAtItsPath(string name, string spec, string path, string message)
    {
        var result = ResourceReader.Read(Head + spec, name);

        var d = Assert.Single(result.Diagnostics, d => d.Severity == Severity.Error);
        Assert.Equal(path, d.Path);
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
        Assert.True(d.Line > 0);
        Assert.Empty(result.Resources);
    }

    [Fact]
    public void Read_SeveralMistakes_ReportsEveryOne()
    {
        var result = ResourceReader.Read(Head + "  subject: {apiVersion: batch/v1, kind: Job}\n  sink: {}\n  ceOverrides: {extensions: {X: y}}\n", "b.yaml");

        Assert.Equal(["spec.ceOverrides.extensions[X]", "spec.sink", "spec.subject", "spec.subject"],
            result.Diagnostics.Where(d => d.Severity == Severity.Error).Select(d => d.Path).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("  subject: {apiVersion: apps/v1, kind: Deployment, name: producer, namespace: shop}\n" + Sink + "  ceOverrides: {extensions: {team: orders, tier2: gold}}\n")]
    [InlineData("  subject: {apiVersion: serving.knative.dev/v1, kind: Service, selector: {matchLabels: {bindme: 'true'}}}\n  sink: {uri: 'http://127.0.0.1:9000/events'}\n")]
    [InlineData("  subject: {apiVersion: apps/v1, kind: Deployment, selector: {matchExpressions: [{key: app, operator: Exists}]}}\n  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: audit}, uri: /in}\n")]
    public void Read_ValidBinding_HasNoErrors(string spec)
    {
        var result = ResourceReader.Read(Head + spec, "b.yaml");

        Assert.DoesNotContain(result.Diagnostics, d => d.Severity == Severity.Error);
        Assert.Single(result.Resources);
    }

    [Fact]
    public void Read_PingSourceBadOverride_IsAnError()
    {
        var result = ResourceReader.Read("apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: '* * * * *'\n  sink: {uri: 'http://x'}\n  ceOverrides: {extensions: {'a-b': c}}\n", "p.yaml");

        Assert.Equal("spec.ceOverrides.extensions[a-b]", Assert.Single(result.Diagnostics).Path);
    }
}

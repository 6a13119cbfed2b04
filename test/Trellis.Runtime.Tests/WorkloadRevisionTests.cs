namespace Trellis.Runtime.Tests;

public class WorkloadRevisionTests
{
    private static readonly WorkloadSpec Base = new(
        "reviews-v2", "default", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v2" }, 2,
        "dotnet", ["bin/bookinfo.dll", "reviews"], new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" }, "samples/bookinfo",
        null, TimeSpan.FromSeconds(30), ["inbound"]);

    public static TheoryData<string, WorkloadSpec> Changes => new()
    {
        { "name", Base with { Name = "reviews-v3" } },
        { "namespace", Base with { Namespace = "other" } },
        { "labels", Base with { Labels = new Dictionary<string, string> { ["app"] = "reviews" } } },
        { "command", Base with { Command = "/usr/bin/dotnet" } },
        { "args", Base with { Args = ["bin/bookinfo.dll", "ratings"] } },
        { "args split", Base with { Args = ["bin/bookinfo.dllreviews"] } },
        { "env", Base with { Env = new Dictionary<string, string> { ["A"] = "1", ["B"] = "3" } } },
        { "workingDirectory", Base with { WorkingDirectory = null } },
        { "readiness", Base with { Readiness = new ProbeSpec(ProbeKind.Http, "/health", TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 3, 1) } },
        { "grace", Base with { TerminationGracePeriod = TimeSpan.FromSeconds(1) } },
        { "ports", Base with { ExtraPortNames = ["inbound", "outbound"] } },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Revision_FieldChanged_Differs(string field, WorkloadSpec changed)
    {
        Assert.True(Base.Revision != changed.Revision, $"changing {field} kept revision {Base.Revision}");
    }

    [Fact]
    public void Revision_ReplicasChanged_Same()
    {
        Assert.Equal(Base.Revision, (Base with { Replicas = 7 }).Revision);
    }

    [Fact]
    public void Revision_SameContentDifferentMapOrder_Same()
    {
        var reordered = Base with
        {
            Labels = new Dictionary<string, string> { ["version"] = "v2", ["app"] = "reviews" },
            Env = new Dictionary<string, string> { ["B"] = "2", ["A"] = "1" },
        };

        Assert.Equal(Base.Revision, reordered.Revision);
    }

    [Fact]
    public void Revision_Always_IsTenLowercaseHexChars()
    {
        Assert.Matches("^[0-9a-f]{10}$", Base.Revision);
    }
}

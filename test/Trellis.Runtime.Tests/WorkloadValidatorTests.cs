namespace Trellis.Runtime.Tests;

public class WorkloadValidatorTests
{
    [Fact]
    public void Validate_ValidList_NoErrors()
    {
        Assert.Empty(WorkloadValidator.Validate([Harness.Shell("a", "true"), Harness.Shell("b", "true")]));
    }

    [Fact]
    public void Validate_ManyProblems_ReportsEveryOne()
    {
        var badProbe = new ProbeSpec(ProbeKind.Http, "health", TimeSpan.FromSeconds(-1), TimeSpan.Zero, TimeSpan.Zero, 0, 1);
        var errors = WorkloadValidator.Validate(
        [
            Harness.Shell("Bad/Name", "true"),
            Harness.Shell("a", "true") with { Replicas = -1, Command = " " },
            Harness.Shell("a", "true") with { Readiness = badProbe, ExtraPortNames = ["x", "x"] },
        ]);

        Assert.Contains(errors, e => e.Contains("default/Bad/Name: name", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("replicas", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("command", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("duplicate", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("readiness.initialDelay", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("readiness.period", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("readiness.timeout", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("failureThreshold", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("readiness.path", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("extraPortNames", StringComparison.Ordinal));
    }
}

using Trellis.Serving.Autoscaling;
using A = Trellis.Serving.Autoscaling.AutoscalingAnnotations;

namespace Trellis.Serving.Tests.Autoscaling;

public class AutoscalerSettingsTests
{
    [Fact]
    public void Parse_NoAnnotations_KnativeDefaults()
    {
        var s = AutoscalerSettings.Parse(null).Settings!;
        Assert.Equal(A.Concurrency, s.Metric);
        Assert.Equal(100, s.TotalValue);
        Assert.Equal(70, s.TargetValue, 9);
        Assert.Equal(211, s.TargetBurstCapacity);
        Assert.Equal(2.0, s.PanicThreshold);
        Assert.Equal(TimeSpan.FromSeconds(60), s.StableWindow);
        Assert.Equal(TimeSpan.FromSeconds(6), s.PanicWindow);
        Assert.Equal(1000, s.MaxScaleUpRate);
        Assert.Equal(2, s.MaxScaleDownRate);
        Assert.Equal((0, 0, 1, 1), (s.MinScale, s.MaxScale, s.InitialScale, s.ActivationScale));
        Assert.Equal(TimeSpan.FromSeconds(30), s.ScaleToZeroGracePeriod);
        Assert.Equal(TimeSpan.Zero, s.ScaleDownDelay);
        Assert.True(s.EnableScaleToZero);
    }

    [Theory]
    [InlineData(null, null, 0, 100, 70)]
    [InlineData(null, null, 10, 10, 7)]
    [InlineData("50", null, 10, 10, 7)]
    [InlineData("5", null, 10, 5, 3.5)]
    [InlineData("50", null, 0, 50, 35)]
    [InlineData(null, "100", 0, 100, 100)]
    [InlineData("0.01", "1", 0, 0.01, 0.01)]
    public void Parse_Targets_ResolvedLikeKnative(string? target, string? utilization, long cc, double total, double want)
    {
        var ann = new Dictionary<string, string>();
        if (target is not null)
        {
            ann[A.Target] = target;
        }

        if (utilization is not null)
        {
            ann[A.TargetUtilizationPercentage] = utilization;
        }

        var s = AutoscalerSettings.Parse(ann, cc).Settings!;
        Assert.Equal(total, s.TotalValue, 9);
        Assert.Equal(want, s.TargetValue, 9);
    }

    [Fact]
    public void Parse_Rps_DefaultTarget200()
    {
        var s = AutoscalerSettings.Parse(new Dictionary<string, string> { [A.Metric] = "rps" }, containerConcurrency: 10).Settings!;
        Assert.Equal(200, s.TotalValue);
        Assert.Equal(140, s.TargetValue, 9);
    }

    [Fact]
    public void Parse_AllAnnotations_Applied()
    {
        var s = AutoscalerSettings.Parse(new Dictionary<string, string>
        {
            [A.Class] = A.KpaClass,
            [A.MinScale] = "1",
            [A.MaxScale] = "10",
            [A.InitialScale] = "2",
            [A.ActivationScale] = "3",
            [A.Window] = "2m",
            [A.PanicWindowPercentage] = "5",
            [A.PanicThresholdPercentage] = "150",
            [A.ScaleDownDelay] = "15s",
            [A.TargetBurstCapacity] = "-1",
            [A.ScaleToZeroPodRetentionPeriod] = "90s",
        }).Settings!;
        Assert.Equal((1, 10, 2, 3), (s.MinScale, s.MaxScale, s.InitialScale, s.ActivationScale));
        Assert.Equal(TimeSpan.FromMinutes(2), s.StableWindow);
        Assert.Equal(TimeSpan.FromSeconds(6), s.PanicWindow);
        Assert.Equal(1.5, s.PanicThreshold);
        Assert.Equal(TimeSpan.FromSeconds(15), s.ScaleDownDelay);
        Assert.Equal(-1, s.TargetBurstCapacity);
        Assert.Equal(TimeSpan.FromSeconds(90), s.ScaleToZeroPodRetentionPeriod);
    }

    [Fact]
    public void Parse_LegacyCamelCaseKeys_Honoured()
    {
        var s = AutoscalerSettings.Parse(new Dictionary<string, string>
        {
            ["autoscaling.knative.dev/minScale"] = "2",
            ["autoscaling.knative.dev/maxScale"] = "4",
            ["autoscaling.knative.dev/targetBurstCapacity"] = "0",
        }).Settings!;
        Assert.Equal((2, 4, 0.0), (s.MinScale, s.MaxScale, s.TargetBurstCapacity));
    }

    [Fact]
    public void Parse_ConfigDefaults_UsedWhenNoAnnotation()
    {
        var config = new AutoscalerConfig { StableWindow = TimeSpan.FromSeconds(30), MaxScale = 7, ScaleToZeroGracePeriod = TimeSpan.FromSeconds(5) };
        var s = AutoscalerSettings.Parse(null, 0, config).Settings!;
        Assert.Equal(TimeSpan.FromSeconds(3), s.PanicWindow);
        Assert.Equal(7, s.MaxScale);
        Assert.Equal(TimeSpan.FromSeconds(5), s.ScaleToZeroGracePeriod);
    }

    [Theory]
    [InlineData(A.Metric, "cpu")]
    [InlineData(A.Class, "hpa.autoscaling.knative.dev")]
    [InlineData(A.Target, "abc")]
    [InlineData(A.Target, "0")]
    [InlineData(A.Target, "NaN")]
    [InlineData(A.TargetUtilizationPercentage, "0.5")]
    [InlineData(A.TargetUtilizationPercentage, "101")]
    [InlineData(A.TargetBurstCapacity, "-2")]
    [InlineData(A.TargetBurstCapacity, "-0.5")]
    [InlineData(A.TargetBurstCapacity, "lots")]
    [InlineData(A.PanicWindowPercentage, "0.5")]
    [InlineData(A.PanicWindowPercentage, "101")]
    [InlineData(A.PanicThresholdPercentage, "109")]
    [InlineData(A.PanicThresholdPercentage, "1001")]
    [InlineData(A.Window, "5s")]
    [InlineData(A.Window, "61m")]
    [InlineData(A.Window, "6500ms")]
    [InlineData(A.Window, "sixty")]
    [InlineData(A.ScaleDownDelay, "2h")]
    [InlineData(A.ScaleDownDelay, "1500ms")]
    [InlineData(A.ScaleToZeroPodRetentionPeriod, "2h")]
    [InlineData(A.MinScale, "-1")]
    [InlineData(A.MinScale, "1.5")]
    [InlineData(A.MaxScale, "ten")]
    [InlineData(A.MaxScale, "99999999999")]
    [InlineData(A.InitialScale, "-1")]
    [InlineData(A.InitialScale, "0")]
    [InlineData(A.ActivationScale, "0")]
    [InlineData("autoscaling.knative.dev/minScale", "x")]
    public void Parse_BadValue_ErrorNamesAnnotation(string key, string value)
    {
        var result = AutoscalerSettings.Parse(new Dictionary<string, string> { [key] = value });
        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal(key, error.Annotation);
        Assert.Equal(value, error.Value);
        Assert.Contains(key, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MaxBelowMin_Error()
    {
        var result = AutoscalerSettings.Parse(new Dictionary<string, string> { [A.MinScale] = "5", [A.MaxScale] = "2" });
        Assert.Contains("less than min-scale", Assert.Single(result.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ActivationAboveMax_Error()
    {
        var result = AutoscalerSettings.Parse(new Dictionary<string, string> { [A.ActivationScale] = "5", [A.MaxScale] = "2" });
        Assert.Equal(A.ActivationScale, Assert.Single(result.Errors).Annotation);
    }

    [Fact]
    public void Parse_SeveralBadValues_ReportsEvery()
    {
        var result = AutoscalerSettings.Parse(new Dictionary<string, string> { [A.Target] = "x", [A.Window] = "1s", [A.MinScale] = "-3" });
        Assert.Equal(3, result.Errors.Count);
        Assert.Null(result.Settings);
    }

    [Fact]
    public void Parse_ZeroInitialScale_AllowedByConfig()
    {
        var result = AutoscalerSettings.Parse(new Dictionary<string, string> { [A.InitialScale] = "0" }, 0, new AutoscalerConfig { AllowZeroInitialScale = true });
        Assert.Equal(0, result.Settings!.InitialScale);
    }
}

namespace Trellis.Runtime.Tests;

public class CrashBackoffTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(300);

    public static TheoryData<double?, double, double> Cases => new()
    {
        // previous delay (s), ran for (s), expected next delay (s)
        { null, 0, 1 },
        { 1, 0, 2 },
        { 2, 5, 4 },
        { 128, 0, 256 },
        { 256, 0, 300 },
        { 300, 0, 300 },
        { 300, 599, 300 },
        { 300, 600, 1 },
        { 8, 3600, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Next_Table_DoublesCapsAndResetsAfterTenMinutes(double? previous, double ranFor, double expected)
    {
        var next = CrashBackoff.Next(previous is { } p ? TimeSpan.FromSeconds(p) : null, TimeSpan.FromSeconds(ranFor), Initial, Max);

        Assert.Equal(TimeSpan.FromSeconds(expected), next);
    }

    [Fact]
    public void Next_InitialAboveMax_ReturnsMax()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), CrashBackoff.Next(null, TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2)));
    }
}

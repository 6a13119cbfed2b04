using System.Reflection;

namespace Trellis.ControlPlane.Tests;

/// <summary>The test classes themselves: what xunit 2 runs of their set-up and clean-up.</summary>
public sealed class TestClassesTests
{
    /// <summary>
    /// xunit 2 disposes a test class through IDisposable or IAsyncLifetime only; a class that cleans up
    /// in IAsyncDisposable.DisposeAsync never does, and leaves its temporary folders and processes behind.
    /// </summary>
    [Fact]
    public void TestClasses_CleanUpOnlyInWaysXunitCalls()
    {
        var wrong = typeof(TestClassesTests).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>().Any()))
            .Where(t => typeof(IAsyncDisposable).IsAssignableFrom(t) && !typeof(IAsyncLifetime).IsAssignableFrom(t) && !typeof(IDisposable).IsAssignableFrom(t))
            .Select(t => t.Name)
            .ToList();

        Assert.True(wrong.Count == 0, "xunit 2 never calls DisposeAsync of: " + string.Join(", ", wrong));
    }
}

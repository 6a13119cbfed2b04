namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>Waits for a state another thread brings about (a request reaching a queue); not for time to pass.</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (limit.IsCancellationRequested)
            {
                Assert.Fail("Timed out waiting until " + what);
            }

            await Task.Delay(2, CancellationToken.None);
        }
    }
}

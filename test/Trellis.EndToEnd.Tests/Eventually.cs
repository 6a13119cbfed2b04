namespace Trellis.EndToEnd.Tests;

/// <summary>Polls a condition against a running trellis process; on timeout (or if it exits) fails with what it printed.</summary>
public static class Eventually
{
    public static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan limit, string what, TrellisProcess process, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline || process.HasExited)
            {
                throw new TimeoutException($"{what} not reached within {limit}. trellis printed:\n{process.Output}");
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(100));
        }
    }
}

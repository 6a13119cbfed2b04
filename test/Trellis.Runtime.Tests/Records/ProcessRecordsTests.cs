using Trellis.Runtime.Records;

namespace Trellis.Runtime.Tests.Records;

public sealed class ProcessRecordsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-records-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Reap_AGroupLeftByADeadSupervisor_StopsEveryMemberAndForgetsIt()
    {
        var records = new ProcessRecords(_dir);
        // A leader and a child of it in one group, recorded as the supervisor records every start.
        var child = ChildProcess.Start("/bin/sh", ["-c", "sleep 300 & wait"], _dir, new Dictionary<string, string>(), Path.Combine(_dir, "x.log"), records, "instance x", TimeSpan.FromSeconds(5));
        var members = await GroupMembersAsync(child.Pid, 2);

        // A new supervisor on the same directory knows only the files.
        var reaped = await new ProcessRecords(_dir).ReapAsync(TimeSpan.FromSeconds(5), TimeProvider.System);

        Assert.Equal("instance x", Assert.Single(reaped).What);
        Assert.All(members, pid => Assert.False(Alive(pid), $"{pid} still runs"));
        Assert.Empty(new ProcessRecords(_dir).ReadAll());
        child.Dispose();
    }

    [Fact]
    public async Task Reap_APidNowUsedByAnotherProcess_LeavesItAlone()
    {
        var records = new ProcessRecords(_dir);
        using var other = System.Diagnostics.Process.Start("/bin/sleep", "300");
        try
        {
            // A record naming that pid but with another start time: the pid was reused.
            await File.WriteAllTextAsync(Path.Combine(_dir, "processes", $"{other.Id}.json"), $$"""{"Pid":{{other.Id}},"StartTime":1,"What":"instance old","GraceSeconds":1}""");

            var reaped = await records.ReapAsync(TimeSpan.FromSeconds(1), TimeProvider.System);

            Assert.Empty(reaped);
            Assert.False(other.HasExited);
            Assert.Empty(records.ReadAll());
        }
        finally
        {
            other.Kill();
        }
    }

    [Fact]
    public async Task Add_ThenExit_RemovesTheRecord()
    {
        var records = new ProcessRecords(_dir);
        using var child = ChildProcess.Start("/bin/true", [], _dir, new Dictionary<string, string>(), Path.Combine(_dir, "t.log"), records, "instance t", TimeSpan.FromSeconds(1));
        await child.Exited.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(records.ReadAll());
    }

    private static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    private static async Task<List<int>> GroupMembersAsync(int group, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var members = Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _)).Select(int.Parse!)
                .Where(pid => ProcessGroupOf(pid) == group).ToList();
            if (members.Count >= count)
            {
                return members;
            }

            Assert.True(DateTime.UtcNow < deadline, "the group did not start");
            await Task.Delay(20);
        }
    }

    private static int? ProcessGroupOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return null;
        }
    }
}

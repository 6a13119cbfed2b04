using Trellis.Runtime.Pool;

namespace Trellis.Runtime.Tests.Pool;

public sealed class PoolEligibilityTests : IDisposable
{
    private const string Dotnet = "/usr/bin/dotnet";
    private readonly string dir = Directory.CreateTempSubdirectory("trellis-eligibility-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("ok", null)]
    [InlineData("not-opted-in", "not opted in")]
    [InlineData("other-command", "not the pool's")]
    [InlineData("no-dll", "not 'dotnet APP.dll")]
    [InlineData("missing-dll", "does not exist")]
    [InlineData("runtime-knob", "DOTNET_gcServer")]
    [InlineData("server-gc", "server GC")]
    [InlineData("other-major", "Microsoft.NETCore.App 8.0.0")]
    [InlineData("other-framework", "Microsoft.WindowsDesktop.App")]
    [InlineData("self-contained", "not a framework-dependent app")]
    [InlineData("bad-json", "cannot be read")]
    public void Check_Cases(string scenario, string? reason)
    {
        var framework = """{"name": "Microsoft.AspNetCore.App", "version": "10.0.0"}""";
        var config = scenario switch
        {
            "server-gc" => Config(framework, "\"System.GC.Server\": true"),
            "other-major" => Config("""{"name": "Microsoft.NETCore.App", "version": "8.0.0"}""", ""),
            "other-framework" => Config("""{"name": "Microsoft.WindowsDesktop.App", "version": "10.0.0"}""", ""),
            "self-contained" => """{"runtimeOptions": {"includedFrameworks": []}}""",
            "bad-json" => "{",
            _ => Config(framework, "\"System.GC.Concurrent\": false, \"Custom.Switch\": \"on\""),
        };
        File.WriteAllText(Path.Combine(dir, "fn.dll"), "");
        File.WriteAllText(Path.Combine(dir, "fn.runtimeconfig.json"), config);
        var spec = new WorkloadSpec("fn", "default", new Dictionary<string, string>(), 1,
            "dotnet", scenario switch { "no-dll" => ["exec", "fn.dll"], "missing-dll" => ["gone.dll"], _ => ["fn.dll", "hello"] },
            scenario == "runtime-knob" ? new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" } : new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Production" },
            dir, null, TimeSpan.FromSeconds(1), [])
        { Pool = scenario == "not-opted-in" ? null : "dotnet" };

        var (launch, why) = PoolEligibility.Check(spec, scenario == "other-command" ? "/bin/sh" : Dotnet, dir, Dotnet, 10);

        if (reason is null)
        {
            Assert.Null(why);
            Assert.Equal(Path.Combine(dir, "fn.dll"), launch!.Assembly);
            Assert.Equal(["hello"], launch.Args);
            Assert.Equal("false", launch.Properties["System.GC.Concurrent"]);
            Assert.Equal("on", launch.Properties["Custom.Switch"]);
        }
        else
        {
            Assert.Null(launch);
            Assert.Contains(reason, why, StringComparison.Ordinal);
        }
    }

    private static string Config(string framework, string properties) =>
        "{\"runtimeOptions\": {\"tfm\": \"net10.0\", \"frameworks\": [" + framework + "], \"configProperties\": {" + properties + "}}}";
}

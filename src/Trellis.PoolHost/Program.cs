// trellis-poolhost: one pre-warmed generic .NET host of the agent's pool (src/Trellis.Runtime/Pool).
//   1. warm up: run a throwaway ASP.NET Core app on a loopback port and call it, so the runtime,
//      Kestrel and the minimal-API paths are loaded and JIT-compiled before any function needs them.
//      Three rounds: the first loads and compiles (~0.5 s), the second still costs ~100 ms (tier-0
//      code, first-call stubs), from the third on a round settles at ~40 ms, which is about what the
//      function's own start then costs (measured on a 2-core machine, docs/serving.md);
//   2. listen on the Unix socket given by --socket and accept the agent's one connection;
//   3. read one "specialize" line (SpecializeRequest), apply it (log, environment, working directory),
//      load the function's assembly and answer "ok", or "error <why>" and exit 1;
//   4. run the function's entry point on this, the main, thread and exit with its code.
// A connection closed before a request, or none within a minute, means the agent is gone: exit 0
// without running anything. An idle host thus never outlives its agent, even one killed with SIGKILL.
using Trellis.PoolHost;

if (args is not ["--socket", var socketPath])
{
    Console.Error.WriteLine("usage: trellis-poolhost --socket PATH");
    return 2;
}

for (var round = 0; round < 3; round++)
{
    Warmup.Run();
}
using var control = ControlChannel.Accept(socketPath);
var line = control?.ReadLine();
if (control is null || line is null)
{
    return 0;
}

FunctionEntry function;
try
{
    function = Specializer.Prepare(SpecializeRequest.Parse(line));
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    control.Reply("error " + e.Message.ReplaceLineEndings(" "));
    return 1;
}

if (!control.Reply("ok"))
{
    return 1;
}

control.Dispose();
return function.Run();

using BenchmarkDotNet.Running;
using Trellis.Benchmarks;

// `--budget`: the allocation budget check (fast, deterministic, CI-friendly); anything else goes
// to BenchmarkDotNet (`bench/run micro`, e.g. `-- --filter '*RouteMatch*'`).
if (args.Length > 0 && args[0] == "--budget")
{
    return AllocationBudget.Run(Console.Out);
}

// `--jetstream-direct`: the JetStream ceiling of `bench/run eventing` (JetStreamDirect.cs).
if (args.Length > 0 && args[0] == "--jetstream-direct")
{
    return await JetStreamDirect.RunAsync(args);
}

// `--push-load`: the simulated proxies of `bench/run push` (PushLoad.cs).
if (args.Length > 0 && args[0] == "--push-load")
{
    return await PushLoad.RunAsync(args);
}

BenchmarkSwitcher.FromAssembly(typeof(Fixtures).Assembly).Run(args);
return 0;

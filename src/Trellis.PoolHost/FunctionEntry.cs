using System.Reflection;

namespace Trellis.PoolHost;

/// <summary>A loaded function's Main, run as the runtime would run it.</summary>
internal sealed class FunctionEntry(MethodInfo main, IReadOnlyList<string> args)
{
    /// <summary>
    /// Runs Main on the calling (main) thread and returns the process exit code: Main's int, or
    /// <see cref="Environment.ExitCode"/> for a void or Task Main. An exception escapes unwrapped,
    /// so an unhandled one crashes the process as it would a plain start.
    /// </summary>
    public int Run()
    {
        object?[] parameters = main.GetParameters().Length == 0 ? [] : [args.ToArray()];
        var result = main.Invoke(null, BindingFlags.DoNotWrapExceptions, binder: null, parameters, culture: null);
        return result switch
        {
            int code => code,
            Task<int> task => task.GetAwaiter().GetResult(),
            Task task => Wait(task),
            _ => Environment.ExitCode,
        };
    }

    private static int Wait(Task task)
    {
        task.GetAwaiter().GetResult();
        return Environment.ExitCode;
    }
}

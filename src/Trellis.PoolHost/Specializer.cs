using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Trellis.PoolHost;

/// <summary>
/// Turns this warm host into the function's process, in the order a plain start sets things up:
/// output first (so that a failure to load is in the instance log), then the environment, the
/// working directory and the function's runtimeconfig properties, then its assembly.
/// </summary>
internal static class Specializer
{
    public static FunctionEntry Prepare(SpecializeRequest request)
    {
        // Console opens fd 1 and 2 lazily and nothing in this host touched it, so after the dup2 the
        // function's Console writes go to the log as well.
        Native.RedirectOutput(request.LogPath);
        foreach (var (name, value) in request.Env)
        {
            Environment.SetEnvironmentVariable(name, value);
            Native.SetNativeEnvironment(name, value);
        }

        Directory.SetCurrentDirectory(request.WorkingDirectory);
        var assemblyPath = Path.GetFullPath(request.Assembly, request.WorkingDirectory);
        foreach (var (name, value) in request.Properties)
        {
            AppContext.SetData(name, value);
        }

        // AppContext.BaseDirectory reads this key first: the function finds files next to its dll.
        AppContext.SetData("APP_CONTEXT_BASE_DIRECTORY", Path.GetDirectoryName(assemblyPath) + Path.DirectorySeparatorChar);

        // The function's own dependencies (its deps.json) load into the default context, next to the
        // shared framework this host already loaded: one copy of ASP.NET Core, so the JIT work of the
        // warm-up is the function's. The host itself references nothing but the framework, so no
        // assembly of its own can shadow one of the function's.
        var resolver = new AssemblyDependencyResolver(assemblyPath);
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            resolver.ResolveAssemblyToPath(name) is { } path ? context.LoadFromAssemblyPath(path) : null;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            resolver.ResolveUnmanagedDllToPath(name) is { } path ? NativeLibrary.Load(path) : IntPtr.Zero;

        var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(assemblyPath);
        var entry = assembly.EntryPoint ?? throw new InvalidOperationException($"'{assemblyPath}' has no entry point");

        // Hosting reads the entry assembly for the application name (and user secrets, static assets).
        Assembly.SetEntryAssembly(assembly);
        return new FunctionEntry(entry, request.Args);
    }
}

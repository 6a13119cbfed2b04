using System.Reflection;

namespace Trellis.Runtime.Tests;

/// <summary>The pool host and the sample functions, built by this project's references.</summary>
internal static class PoolTestPaths
{
    public static string PoolHost => Metadata("PoolHostPath");

    public static string Functions => Metadata("FunctionsPath");

    private static string Metadata(string key) => typeof(PoolTestPaths).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

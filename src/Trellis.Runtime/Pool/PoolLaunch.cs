namespace Trellis.Runtime.Pool;

/// <summary>What a pool host needs to become one instance: the function's assembly and arguments
/// (the command line after <c>dotnet</c> and the dll), and its runtimeconfig.json properties.</summary>
internal sealed record PoolLaunch(string Assembly, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Properties);

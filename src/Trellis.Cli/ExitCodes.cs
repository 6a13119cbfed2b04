namespace Trellis.Cli;

/// <summary>Exit codes scripts can rely on (README, "Exit codes").</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The control plane refused the request: invalid input, not found, conflict; or analyze found errors.</summary>
    public const int Rejected = 1;
    /// <summary>Wrong command line.</summary>
    public const int Usage = 2;
    /// <summary>The control plane could not be reached.</summary>
    public const int Unreachable = 3;
    /// <summary>A server role (<c>up</c>) could not listen on an address it needs: port taken, no permission.</summary>
    public const int CannotListen = 4;
}

namespace Trellis.Proxy.Http1;

/// <summary>A client connection of a fast-path listener (<see cref="Http1Listener"/>), whatever its protocol.</summary>
internal interface IFastConnection
{
    /// <summary>Ends when the connection is closed (or handed to Kestrel) and everything it started has ended.</summary>
    Task Completion { get; }

    void Start();

    /// <summary>Listener stop: closes now if nothing is in flight, otherwise once what is in flight has ended.</summary>
    void CloseIfIdle();

    /// <summary>Listener stop after the drain timeout: whatever is still running is cut off.</summary>
    void Abort();

    /// <summary>Called about once a second by the listener, off the request path, with the current timestamp.</summary>
    void Sweep(long now);
}

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// Random (version 4) UUIDs for <c>x-request-id</c>. <c>Guid.NewGuid</c> asks the kernel for 16
/// random bytes on every call (a getrandom system call per request); a request id has to be
/// unique, not unpredictable, so the bytes come from <see cref="Random.Shared"/> (xoshiro256**,
/// per thread, seeded from the system's secure source) instead. Not
/// <c>RandomNumberGenerator</c>: on Linux that loads OpenSSL's libcrypto, about 5 MB of RSS.
/// </summary>
internal static class RequestIds
{
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        // RFC 9562 §5.4: version 4, variant 10xx (the same layout Guid.NewGuid produces).
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes).ToString();
    }
}

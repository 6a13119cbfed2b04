using System.Buffers.Binary;
using System.Text;

namespace Trellis.Proxy.Tcp;

/// <summary>What the first bytes of a connection say about TLS, as Envoy's <c>tls_inspector</c> reads them.</summary>
internal enum ClientHelloParse
{
    /// <summary>More bytes are needed to decide.</summary>
    Incomplete,

    /// <summary>A whole ClientHello was read (with or without a server name).</summary>
    Complete,

    /// <summary>Not a TLS ClientHello: route without a server name.</summary>
    NotTls,
}

/// <summary>
/// Reads the server name (SNI, RFC 6066 §3) and whether a mesh ALPN is offered (RFC 7301; Istio's proxies offer
/// <c>istio</c>, <c>istio-peer-exchange</c>, <c>istio-http/1.1</c>... on mTLS between sidecars, which is how an inbound
/// side tells mesh mTLS from an application's own TLS) from a TLS ClientHello without terminating TLS (RFC 8446 §4.1.2): the
/// record header, the handshake header, then the hello's fields skipped by their lengths down to the extensions.
/// Every length is checked against what is there; a ClientHello split across several records is read from the first
/// record only (as the server name is in every hello seen in practice, within its first 16 KiB).
/// </summary>
internal static class TlsClientHello
{
    /// <summary>The most bytes read while looking for the name: one TLS record and its header.</summary>
    public const int MaxBytes = 5 + (1 << 14);

    /// <summary>The prefix of the ALPN names mesh proxies offer each other (Istio's inbound filter chains match it).</summary>
    public const string MeshAlpnPrefix = "istio";

    public static ClientHelloParse TryRead(ReadOnlySpan<byte> data, out string? serverName) => TryRead(data, out serverName, out _);

    /// <summary>
    /// Whether a connection's first bytes can start a ClientHello: a TLS record of type handshake (22) with major version 3.
    /// The one check of the record header, shared by <see cref="TryRead"/> and by the HTTP listeners' PERMISSIVE sniff
    /// (mesh mTLS or cleartext), which decides on one or two bytes: 22 starts no HTTP/1.1 method (a token) nor the h2c
    /// preface. Null: no byte yet.
    /// </summary>
    public static bool? StartsHandshake(ReadOnlySpan<byte> first) => first.Length switch
    {
        0 => null,
        1 => first[0] == 22,
        _ => first[0] == 22 && first[1] == 3,
    };

    public static ClientHelloParse TryRead(ReadOnlySpan<byte> data, out string? serverName, out bool meshAlpn)
    {
        serverName = null;
        meshAlpn = false;
        // TLSPlaintext: type handshake (22), legacy version 3.x, length.
        if (StartsHandshake(data) == false)
        {
            return ClientHelloParse.NotTls;
        }

        if (data.Length < 5)
        {
            return ClientHelloParse.Incomplete;
        }

        var recordLength = BinaryPrimitives.ReadUInt16BigEndian(data[3..]);
        if (recordLength is 0 or > 1 << 14)
        {
            return ClientHelloParse.NotTls;
        }

        if (data.Length < 5 + recordLength)
        {
            return ClientHelloParse.Incomplete;
        }

        var record = data.Slice(5, recordLength);
        // Handshake: msg_type client_hello (1), uint24 length.
        if (record.Length < 4 || record[0] != 1)
        {
            return ClientHelloParse.NotTls;
        }

        var hello = record[4..];
        var helloLength = (record[1] << 16) | (record[2] << 8) | record[3];
        if (helloLength < hello.Length)
        {
            hello = hello[..helloLength];
        }

        var reader = new Reader(hello);
        if (!reader.Skip(2 + 32) // legacy_version, random
            || !reader.SkipVector(1) // legacy_session_id
            || !reader.SkipVector(2) // cipher_suites
            || !reader.SkipVector(1)) // legacy_compression_methods
        {
            return ClientHelloParse.NotTls;
        }

        if (reader.Remaining == 0)
        {
            return ClientHelloParse.Complete; // no extensions, no name
        }

        if (!reader.Vector(2, out var extensions))
        {
            return ClientHelloParse.NotTls;
        }

        var ext = new Reader(extensions);
        while (ext.Remaining > 0)
        {
            if (!ext.UInt16(out var type) || !ext.Vector(2, out var body))
            {
                return ClientHelloParse.NotTls;
            }

            var fields = new Reader(body);
            if ((type == ServerNameExtension && !ReadServerName(ref fields, ref serverName))
                || (type == AlpnExtension && !ReadMeshAlpn(ref fields, ref meshAlpn)))
            {
                return ClientHelloParse.NotTls;
            }
        }

        return ClientHelloParse.Complete;
    }

    private const int ServerNameExtension = 0;
    private static readonly byte[] MeshAlpn = Encoding.ASCII.GetBytes(MeshAlpnPrefix);
    private const int AlpnExtension = 16;

    /// <summary>server_name: a list of (type, name); the first host_name (type 0) of printable ASCII is the name.</summary>
    private static bool ReadServerName(ref Reader body, ref string? serverName)
    {
        if (!body.Vector(2, out var list))
        {
            return false;
        }

        var entries = new Reader(list);
        while (entries.Remaining > 0)
        {
            if (!entries.Byte(out var nameType) || !entries.Vector(2, out var name))
            {
                return false;
            }

            if (nameType == 0 && name.Length > 0 && Ascii(name) && serverName is null)
            {
                serverName = Encoding.ASCII.GetString(name).TrimEnd('.').ToLowerInvariant();
            }
        }

        return true;
    }

    /// <summary>application_layer_protocol_negotiation: a list of names; whether one starts with <see cref="MeshAlpnPrefix"/>.</summary>
    private static bool ReadMeshAlpn(ref Reader body, ref bool meshAlpn)
    {
        if (!body.Vector(2, out var list))
        {
            return false;
        }

        var names = new Reader(list);
        while (names.Remaining > 0)
        {
            if (!names.Vector(1, out var name))
            {
                return false;
            }

            meshAlpn |= name.StartsWith(MeshAlpn);
        }

        return true;
    }

    private static bool Ascii(ReadOnlySpan<byte> name)
    {
        foreach (var b in name)
        {
            if (b is <= 0x20 or >= 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly int Remaining => _rest.Length;

        public bool Skip(int count)
        {
            if (_rest.Length < count)
            {
                return false;
            }

            _rest = _rest[count..];
            return true;
        }

        public bool Byte(out byte value)
        {
            value = 0;
            if (_rest.Length < 1)
            {
                return false;
            }

            value = _rest[0];
            _rest = _rest[1..];
            return true;
        }

        public bool UInt16(out int value)
        {
            value = 0;
            if (_rest.Length < 2)
            {
                return false;
            }

            value = BinaryPrimitives.ReadUInt16BigEndian(_rest);
            _rest = _rest[2..];
            return true;
        }

        public bool Vector(int lengthBytes, out ReadOnlySpan<byte> body)
        {
            body = default;
            if (_rest.Length < lengthBytes)
            {
                return false;
            }

            var length = lengthBytes == 1 ? _rest[0] : BinaryPrimitives.ReadUInt16BigEndian(_rest);
            if (_rest.Length < lengthBytes + length)
            {
                return false;
            }

            body = _rest.Slice(lengthBytes, length);
            _rest = _rest[(lengthBytes + length)..];
            return true;
        }

        public bool SkipVector(int lengthBytes) => Vector(lengthBytes, out _);
    }
}

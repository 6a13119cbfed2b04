using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using HttpProtocols = Trellis.Api.Snapshots.HttpProtocols;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Security.Tls;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// mTLS on a listener Kestrel serves by itself (the fast paths off): the same sniff, handshake options and peer check as
/// the fast path's <see cref="MeshTlsAcceptor"/>, as Kestrel connection middleware. Under PERMISSIVE a cleartext
/// connection skips the TLS middleware (the pipeline after it is captured when Kestrel builds the chain); under STRICT it
/// is closed with a log line. The verified peer is set as <see cref="PeerIdentityFeature"/>.
/// </summary>
internal static class MeshTlsKestrel
{
    public static void Use(ListenOptions listen, MeshTls tls, string listener, string identity, PeerAuthenticationMode initial, HttpProtocols protocols)
    {
        ConnectionDelegate? afterTls = null;
        listen.Use(next => async connection =>
        {
            var input = connection.Transport.Input;
            var read = await input.ReadAsync(connection.ConnectionClosed);
            var first = read.Buffer.Slice(0, Math.Min(2, read.Buffer.Length)).ToArray();
            input.AdvanceTo(read.Buffer.Start, read.Buffer.Start);
            var tlsFirst = Tcp.TlsClientHello.StartsHandshake(first);
            var mode = tls.ModeOf(listener, initial);
            if (mode == PeerAuthenticationMode.Disable)
            {
                await afterTls!(connection);
            }
            else if (tlsFirst == true)
            {
                await next(connection);
            }
            else if (tlsFirst == false && mode == PeerAuthenticationMode.Permissive)
            {
                await afterTls!(connection);
            }
            else if (tlsFirst == false)
            {
                MeshTlsLog.CleartextRefused(tls.Log, listener, connection.RemoteEndPoint?.ToString() ?? string.Empty);
            }
        });
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            HandshakeTimeout = MeshTls.HandshakeTimeout,
            OnConnection = context =>
            {
                var slot = new PeerSlot();
                context.Connection.Features.Set(slot);
                var remote = context.Connection.RemoteEndPoint?.ToString() ?? string.Empty;
                if (tls.Server(identity, protocols, slot) is not { } options)
                {
                    MeshTlsLog.NoServerCertificate(tls.Log, listener, identity, remote);
                    throw new ConnectionAbortedException("no certificate for " + identity);
                }

                var verify = options.RemoteCertificateValidationCallback!;
                options.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                {
                    var accepted = verify(sender, certificate, chain, errors);
                    if (!accepted)
                    {
                        MeshTlsLog.HandshakeRefused(tls.Log, listener, remote, slot.Verdict.Error ?? "refused");
                    }

                    return accepted;
                };
                return ValueTask.FromResult(options);
            },
        });
        listen.Use(next =>
        {
            afterTls = next;
            return connection =>
            {
                if (connection.Features.Get<PeerSlot>()?.Verdict.Peer is { } peer)
                {
                    connection.Features.Set(new PeerIdentityFeature(peer));
                }

                return next(connection);
            };
        });
    }
}

using Grpc.Core;

namespace Trellis.Samples.Grpc;

/// <summary>Who this hop is and how it reaches the next one.</summary>
internal sealed record Hop(string Name, MeshChannels Channels);

/// <summary>The Chain service: relay to the next hop, or answer as the last one.</summary>
internal sealed class ChainService(Hop hop) : Chain.ChainBase
{
    public const string FailedBy = "x-failed-by";

    public override async Task<HopReply> Hop(HopRequest request, ServerCallContext context)
    {
        if (request.Route.Count == 0)
        {
            await LastHopAsync(request, context);
            var reply = new HopReply();
            reply.Path.Add(hop.Name);
            return reply;
        }

        var client = new Chain.ChainClient(hop.Channels.For(request.Route[0]));
        try
        {
            // The caller's deadline goes on (grpc-timeout shrinks hop by hop), as gRPC's deadline propagation asks.
            var next = await client.HopAsync(Next(request), deadline: context.Deadline, cancellationToken: context.CancellationToken);
            next.Path.Insert(0, hop.Name);
            return next;
        }
        catch (RpcException e)
        {
            throw Relayed(e);
        }
    }

    public override async Task Stream(HopRequest request, IServerStreamWriter<HopReply> responseStream, ServerCallContext context)
    {
        if (request.Route.Count == 0)
        {
            await LastHopAsync(request, context);
            for (var i = 0; i < request.Count; i++)
            {
                var reply = new HopReply { Index = i };
                reply.Path.Add(hop.Name);
                await responseStream.WriteAsync(reply, context.CancellationToken);
            }

            return;
        }

        var client = new Chain.ChainClient(hop.Channels.For(request.Route[0]));
        try
        {
            using var call = client.Stream(Next(request), deadline: context.Deadline, cancellationToken: context.CancellationToken);
            await foreach (var next in call.ResponseStream.ReadAllAsync(context.CancellationToken))
            {
                next.Path.Insert(0, hop.Name);
                await responseStream.WriteAsync(next, context.CancellationToken);
            }
        }
        catch (RpcException e)
        {
            throw Relayed(e);
        }
    }

    private async Task LastHopAsync(HopRequest request, ServerCallContext context)
    {
        if (request.DelayMs > 0)
        {
            await Task.Delay(request.DelayMs, context.CancellationToken);
        }

        if (request.FailCode != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailCode, $"failed by {hop.Name}"), new Metadata { { FailedBy, hop.Name } });
        }
    }

    private static HopRequest Next(HopRequest request)
    {
        var next = request.Clone();
        next.Route.RemoveAt(0);
        return next;
    }

    /// <summary>A failure of the next hop goes back to the caller as it came: status, message and trailers.</summary>
    private static RpcException Relayed(RpcException e) => new(e.Status, e.Trailers);
}

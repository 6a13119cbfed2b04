using Trellis.Eventing.Storage.JetStream;
using Trellis.Eventing.Tests.Storage;

namespace Trellis.ControlPlane.Tests.Eventing;

/// <summary>Every <see cref="BrokerTests"/> case again with the distributed store: a real nats-server with JetStream.</summary>
public sealed class BrokerOnJetStreamTests : BrokerTests
{
    private NatsServer? _nats;

    protected override async Task<JetStreamOptions?> StartEventStoreAsync()
    {
        _nats = await NatsServer.StartAsync();
        return new JetStreamOptions(_nats.Url);
    }

    protected override async Task StopEventStoreAsync()
    {
        if (_nats is not null)
        {
            await _nats.DisposeAsync();
        }
    }
}

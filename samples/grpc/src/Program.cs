using System.Globalization;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Trellis.Samples.Grpc;

// A gRPC service that calls itself through the mesh: deployed as several Deployments (NAME, VERSION), each hop adds
// "name/version" to the reply and calls the next hop of the request's route through its proxy's outbound listener, with
// the caller's deadline; the last hop answers, fails with a status and trailers, waits, or streams, as asked. It
// serves h2c (HTTP/2 with prior knowledge) on $PORT, as a Service port named grpc tells the mesh.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var port = int.Parse(Environment.GetEnvironmentVariable("PORT") ?? "50051", CultureInfo.InvariantCulture);
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.ListenLocalhost(port, l => l.Protocols = HttpProtocols.Http2);
});
builder.Services.AddGrpc();
builder.Services.AddSingleton(new Hop(
    $"{Environment.GetEnvironmentVariable("NAME") ?? "chain"}/{Environment.GetEnvironmentVariable("VERSION") ?? "v1"}",
    MeshChannels.FromEnvironment()));
var app = builder.Build();
app.MapGrpcService<ChainService>();
app.Run();

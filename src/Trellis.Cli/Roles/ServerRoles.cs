using System.CommandLine;
using Trellis.Agent;
using Trellis.Agent.Replicas;
using Trellis.ControlPlane;

namespace Trellis.Cli.Roles;

/// <summary><c>trellis controlplane</c> and <c>trellis agent</c>: the distributed mode's two long-running roles.</summary>
public static class ServerRoles
{
    public static Command ControlPlane()
    {
        var dataDir = RoleOptions.DataDir();
        var api = new Option<string>("--api-address") { DefaultValueFactory = _ => "127.0.0.1:15000", Description = "API address; every request needs a token or a node identity; beyond loopback use --api-tls, or put it on a network you trust" };
        var push = new Option<string>("--push-address") { DefaultValueFactory = _ => "127.0.0.1:15010", Description = "Push address (HTTP/2)" };
        var store = new Option<string?>("--store") { Description = "etcd://host:2379[,host:2379...] to keep state in etcd and run as one of several replicas; default: the embedded file store in --data-dir" };
        var name = new Option<string?>("--name") { Description = "This replica's name in leader election (default host/pid)" };
        var advertise = new Option<string?>("--advertise-url") { Description = "The API URL other replicas reach this one at (default: http://--api-address, https:// with --api-tls)" };
        var nodeTtl = new Option<int>("--node-ttl") { DefaultValueFactory = _ => 15, Description = "With etcd: seconds a node stays registered after its last heartbeat" };
        var logLevel = RoleOptions.LogLevel();
        var gatewayAddresses = GatewayAddressOptions.GatewayAddresses();
        var broker = EventingRoleOptions.BrokerAddress();
        var eventingGateway = EventingRoleOptions.EventingGateway();
        var eventStore = EventingRoleOptions.EventStore();
        var eventStoreReplicas = EventingRoleOptions.EventStoreReplicas();
        var caDir = new Option<string?>("--ca-dir") { Description = "The operator's CA in Istio's plug-in layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); default: a self-signed root in <data-dir>/ca" };
        var joinToken = new Option<string?>("--join-token") { Description = "The token agents join with (default: made on first start in <data-dir>/ca/join-token)" };
        var trustDomain = new Option<string>("--trust-domain") { DefaultValueFactory = _ => Trellis.Api.Identity.SpiffeId.DefaultTrustDomain, Description = "The SPIFFE trust domain of workload identities" };
        var certLifetime = RoleOptions.CertLifetime();
        var tokenAuthFile = TokenAuthFile();
        var apiTls = ApiTlsOptions.Tls();
        var tlsSan = ApiTlsOptions.TlsSan();
        var command = new Command("controlplane", "Run the control plane: API, store, registry, config push, broker ingress, certificate authority") { dataDir, api, push, store, name, advertise, nodeTtl, logLevel, gatewayAddresses, broker, eventingGateway, eventStore, eventStoreReplicas, caDir, joinToken, trustDomain, certLifetime, tokenAuthFile, apiTls, tlsSan };
        command.SetAction(async (parse, ct) =>
        {
            using var loggers = RoleOptions.Loggers(parse.GetValue(logLevel)!);
            var shutdown = RoleOptions.ShutdownRequested();
            var storeUrl = parse.GetValue(store);
            if (storeUrl is not null && Trellis.ControlPlane.Store.Etcd.EtcdConnection.ParseUrl(storeUrl).Error is { } storeError)
            {
                Console.Error.WriteLine("error: " + storeError);
                return ExitCodes.Usage;
            }

            Uri? advertised = null;
            if (parse.GetValue(advertise) is { } a && !Uri.TryCreate(a, UriKind.Absolute, out advertised))
            {
                Console.Error.WriteLine($"error: --advertise-url {a} is not an absolute URL");
                return ExitCodes.Usage;
            }

            if (parse.GetValue(nodeTtl) < 2)
            {
                Console.Error.WriteLine("error: --node-ttl must be at least 2 seconds");
                return ExitCodes.Usage;
            }

            var certificates = new Trellis.Api.Identity.CertificatePolicy { TrustDomain = parse.GetValue(trustDomain)!, Lifetime = TimeSpan.FromSeconds(parse.GetValue(certLifetime)) };
            if (certificates.Problem() is { } policyError)
            {
                Console.Error.WriteLine("error: " + policyError);
                return ExitCodes.Usage;
            }

            if (ApiTlsOptions.Problem(parse.GetValue(tlsSan)) is { } sanError)
            {
                Console.Error.WriteLine("error: " + sanError);
                return ExitCodes.Usage;
            }

            if (parse.GetValue(joinToken) is { Length: < 16 })
            {
                Console.Error.WriteLine("error: --join-token must be at least 16 characters");
                return ExitCodes.Usage;
            }

            var dataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!);
            var apiEndpoint = RoleOptions.Endpoint(parse.GetValue(api)!, "--api-address");
            // Every option is read (a bad one is a usage error) before the tokens are written: a rejected command line creates nothing.
            var pushEndpoint = RoleOptions.Endpoint(parse.GetValue(push)!, "--push-address");
            var gatewayPool = GatewayAddressOptions.AddressPool(parse.GetValue(gatewayAddresses)!);
            var eventing = EventingRoleOptions.Eventing(parse.GetValue(broker)!, parse.GetValue(eventingGateway)!, parse.GetValue(eventStore)!, parse.GetValue(eventStoreReplicas));
            if (AdminContext.OpenTokens(dataDirectory, parse.GetValue(tokenAuthFile) is { } given ? Path.GetFullPath(given) : null) is not { } tokens)
            {
                return ExitCodes.Usage;
            }

            var caDirectory = parse.GetValue(caDir) is { } plugged ? Path.GetFullPath(plugged) : null;
            var tls = parse.GetValue(apiTls);
            var caFile = tls ? ApiTlsOptions.RootFile(caDirectory ?? Path.Combine(dataDirectory, "ca")) : null;
            if (apiEndpoint.Port != 0)
            {
                AdminContext.Publish(tokens, AdminContext.Url(apiEndpoint, tls), caFile); // before the API listens (see UpRole)
            }

            await using var host = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
            {
                CaDirectory = caDirectory,
                Tls = tls,
                TlsNames = parse.GetValue(tlsSan) ?? [],
                JoinToken = parse.GetValue(joinToken),
                Certificates = certificates,
                DataDirectory = dataDirectory,
                ApiEndpoint = apiEndpoint,
                PushEndpoint = pushEndpoint,
                GatewayAddresses = gatewayPool,
                Store = storeUrl,
                Eventing = eventing,
                ReplicaName = parse.GetValue(name),
                AdvertiseUrl = advertised,
                NodeTtl = TimeSpan.FromSeconds(parse.GetValue(nodeTtl)),
                Tokens = tokens,
            }, loggers, cancellationToken: ct);
            Console.WriteLine($"Control plane API {host.ApiUrl}, push {host.PushUrl}, store {storeUrl ?? "file"}, replica {host.Leadership.Identity}, broker ingress {host.BrokerIngressUrl}");
            var pin = tls ? " --ca-cert-hash " + Trellis.Api.Access.ControlPlaneTrust.Hash(host.Ca.Roots[0]) : "";
            Console.WriteLine(host.Ca.JoinToken.Path is { } tokenFile ? $"Agents join with: trellis agent --token $(cat {tokenFile}){pin}" : $"Agents join with the --join-token given{pin}");
            if (apiEndpoint.Port == 0)
            {
                AdminContext.Publish(tokens, host.ApiUrl, caFile);
            }

            AdminContext.WarnIfExposed(apiEndpoint, tls);
            await Task.WhenAny(shutdown, Task.Delay(Timeout.Infinite, ct));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>kube-apiserver's <c>--token-auth-file</c>: static tokens beside those made with <c>trellis token create</c>.</summary>
    public static Option<string?> TokenAuthFile() => new("--token-auth-file")
    {
        Description = "Static API tokens, one 'token,name,role' a line (token also as sha256:<hex>); replicas sharing etcd are given the same file",
    };

    public static Command Agent()
    {
        var dataDir = RoleOptions.DataDir();
        var node = new Option<string>("--node") { DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant(), Description = "This host's node name" };
        var push = RoleOptions.Push();
        var logLevel = RoleOptions.LogLevel();
        var poolSize = RoleOptions.PoolSize();
        var address = new Option<string>("--address") { DefaultValueFactory = _ => "127.0.0.1", Description = "The address other hosts reach this node at (instances register with it)" };
        var labels = new Option<string[]>("--label", "-l") { Description = "Node label k=v, for Deployments' nodeSelector (repeatable)" };
        var cpu = new Option<string?>("--cpu") { Description = "CPU the scheduler may place here (e.g. 2 or 1500m); default: this host's processors" };
        var memory = new Option<string?>("--memory") { Description = "Memory the scheduler may place here (e.g. 4Gi); default: what .NET sees" };
        var token = new Option<string?>("--token") { Description = "The control plane's join token (its <data-dir>/ca/join-token), required: the agent's node identity for the API and the workload certificates come from it; default TRELLIS_JOIN_TOKEN" };
        var capture = new Option<bool>("--capture") { Description = "Redirect the workloads' outbound TCP in this network namespace to the node proxy (nftables, as Istio's init container; needs root and nft)" };
        var capturePort = new Option<int>("--capture-port") { DefaultValueFactory = _ => 15001, Description = "The node proxy's capture listener (127.0.0.1), with --capture" };
        capturePort.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 65535)
            {
                r.AddError("--capture-port must be 1-65535");
            }
        });
        var caCertHash = RoleOptions.CaCertHash();
        var command = new Command("agent", "Run the node agent: workloads as processes, their proxies, registration") { dataDir, node, push, logLevel, poolSize, address, labels, cpu, memory, token, capture, capturePort, caCertHash };
        command.SetAction(async (parse, ct) =>
        {
            using var loggers = RoleOptions.Loggers(parse.GetValue(logLevel)!);
            var shutdown = RoleOptions.ShutdownRequested();
            var (servers, serverError) = ReplicaList.Parse(parse.GetValue(Verbs.Common.Server)!, "--server");
            var (pushes, pushError) = ReplicaList.Parse(parse.GetValue(push)!, "--push");
            if ((serverError ?? pushError) is { } error)
            {
                Console.Error.WriteLine("error: " + error);
                return ExitCodes.Usage;
            }

            var (trust, trustError) = RoleOptions.TrustOf(parse, Verbs.Common.CaFile, [.. servers, .. pushes], caCertHash, Verbs.Common.CaFromConfig);
            if (trustError is not null)
            {
                Console.Error.WriteLine("error: " + trustError);
                return ExitCodes.Usage;
            }

            var given = (parse.GetValue(labels) ?? []).Select(l => l.Split('=', 2)).ToList();
            if (!System.Net.IPAddress.TryParse(parse.GetValue(address), out _))
            {
                Console.Error.WriteLine($"error: --address {parse.GetValue(address)} is not an IP address");
                return ExitCodes.Usage;
            }

            if (given.Any(p => p.Length != 2 || p[0].Length == 0))
            {
                Console.Error.WriteLine("error: --label must be key=value");
                return ExitCodes.Usage;
            }

            if ((parse.GetValue(token) ?? Environment.GetEnvironmentVariable("TRELLIS_JOIN_TOKEN")) is not { Length: > 0 } joinWith)
            {
                Console.Error.WriteLine("error: an agent needs the control plane's join token (--token or TRELLIS_JOIN_TOKEN; it is in the control plane's <data-dir>/ca/join-token)");
                return ExitCodes.Usage;
            }

            var defaults = new AgentOptions { ControlPlane = servers[0], Push = pushes[0], DataDirectory = "" }.Capacity;
            var cpuMillis = parse.GetValue(cpu) is { } c ? Trellis.ControlPlane.Scheduling.Quantity.Millicores(c) : defaults.CpuMillis;
            var memoryBytes = parse.GetValue(memory) is { } m ? Trellis.ControlPlane.Scheduling.Quantity.Bytes(m) : defaults.MemoryBytes;
            if (cpuMillis is null || memoryBytes is null)
            {
                Console.Error.WriteLine("error: --cpu and --memory take Kubernetes quantities (2, 1500m; 4Gi, 512Mi)");
                return ExitCodes.Usage;
            }

            await using var agent = await AgentHost.StartAsync(new AgentOptions
            {
                Node = parse.GetValue(node)!,
                Address = parse.GetValue(address)!,
                Labels = given.ToDictionary(p => p[0], p => p[1]),
                Capacity = new Trellis.Api.Registry.NodeCapacity(cpuMillis.Value, memoryBytes.Value),
                ControlPlane = servers[0],
                ControlPlaneReplicas = servers,
                Push = pushes[0],
                PushReplicas = pushes,
                DataDirectory = Path.GetFullPath(Path.Combine(parse.GetValue(dataDir)!, "agent")),
                PoolSize = parse.GetValue(poolSize),
                JoinToken = joinWith,
                CapturePort = parse.GetValue(capture) ? parse.GetValue(capturePort) : null,
                Trust = trust,
            }, loggers, ct);
            Console.WriteLine($"Agent {parse.GetValue(node)} running");
            await Task.WhenAny(shutdown, Task.Delay(Timeout.Infinite, ct));
            return ExitCodes.Ok;
        });
        return command;
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>DestinationRule <c>tls</c> SIMPLE and MUTUAL compiled into a cluster's TLS origination, as Istio's egress TLS origination task writes it.</summary>
public sealed class TlsOriginationCompilerTests
{
    private const string Entry = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: external}
        spec:
          hosts: [api.external.example]
          ports: [{number: 80, name: http-port, protocol: HTTP, targetPort: 443}, {number: 8080, name: http-alt, protocol: HTTP}]
          resolution: STATIC
          endpoints: [{address: 127.0.0.2, labels: {version: a}}]
        """;

    private static (string Certificate, string Key) Pem(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private static string Indent(string pem) => string.Join("\n", pem.Split('\n').Select(l => "      " + l));

    private static ClusterConfig ClusterNamed(ProxySnapshot snapshot, string name) => snapshot.Clusters.Single(c => c.Name == name);

    [Fact]
    public void Compile_PortLevelSimple_OriginatesOnThatPortOnly_AsWritten()
    {
        var snapshot = Compile(Entry + """

            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: external}
            spec:
              host: api.external.example
              trafficPolicy:
                portLevelSettings:
                - port: {number: 80}
                  tls: {mode: SIMPLE, sni: api.external.example, subjectAltNames: [api.external.example], caCertificates: /etc/certs/ca.pem}
            """);

        var tls = ClusterNamed(snapshot, "outbound|80||api.external.example").Tls!;
        Assert.Equal(ClusterTlsMode.Simple, tls.Mode);
        Assert.Equal(new OriginationTlsConfig(Sni: "api.external.example", SubjectAltNames: tls.Origination!.SubjectAltNames, CaCertificatesFile: "/etc/certs/ca.pem"), tls.Origination);
        Assert.Equal(["api.external.example"], tls.Origination.SubjectAltNames!);
        Assert.Equal(["127.0.0.2:443"], ClusterNamed(snapshot, "outbound|80||api.external.example").Endpoints.Select(e => $"{e.Address}:{e.Port}"));
        Assert.Null(ClusterNamed(snapshot, "outbound|8080||api.external.example").Tls); // a ServiceEntry host without a rule's TLS: cleartext
    }

    [Fact]
    public void Compile_CredentialName_SecretPemInTheSnapshot_SubsetMutual()
    {
        var ca = Pem("Test CA");
        var client = Pem("client");
        var snapshot = Compile(Entry + $$$"""

            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: external-ca}
            type: Opaque
            stringData:
              cacert: |
            {{{Indent(ca.Certificate)}}}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: client-credential}
            type: kubernetes.io/tls
            stringData:
              tls.crt: |
            {{{Indent(client.Certificate)}}}
              tls.key: |
            {{{Indent(client.Key)}}}
              ca.crt: |
            {{{Indent(ca.Certificate)}}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: external}
            spec:
              host: api.external.example
              trafficPolicy: {tls: {mode: SIMPLE, credentialName: external-ca}}
              subsets:
              - name: a
                labels: {version: a}
                trafficPolicy: {tls: {mode: MUTUAL, credentialName: client-credential}}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: external}
            spec:
              hosts: [api.external.example]
              http:
              - match:
                - uri: {prefix: /mutual}
                route:
                - destination: {host: api.external.example, subset: a, port: {number: 80}}
              - route:
                - destination: {host: api.external.example, port: {number: 80}}
            """);

        var simple = ClusterNamed(snapshot, "outbound|80||api.external.example").Tls!;
        Assert.Equal(ClusterTlsMode.Simple, simple.Mode);
        Assert.Equal(ca.Certificate.Trim(), simple.Origination!.CaCertificatesPem!.Trim());
        Assert.Null(simple.Origination.ClientCertificatePem);
        var mutual = ClusterNamed(snapshot, "outbound|80|a|api.external.example").Tls!;
        Assert.Equal(ClusterTlsMode.Mutual, mutual.Mode);
        Assert.Equal(client.Certificate.Trim(), mutual.Origination!.ClientCertificatePem!.Trim());
        Assert.Equal(client.Key.Trim(), mutual.Origination.PrivateKeyPem!.Trim());
        Assert.Equal(ca.Certificate.Trim(), mutual.Origination.CaCertificatesPem!.Trim());
    }

    [Fact]
    public void Compile_CredentialSecretGone_ClusterCarriesTheError_NeverCleartext()
    {
        var snapshot = Compile(Entry + """

            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: external}
            spec:
              host: api.external.example
              trafficPolicy: {tls: {mode: SIMPLE, credentialName: gone}}
            """);

        var tls = ClusterNamed(snapshot, "outbound|80||api.external.example").Tls!;
        Assert.Equal(ClusterTlsMode.Simple, tls.Mode);
        Assert.Equal("Secret default/gone (credentialName) not found", tls.Origination!.Error);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Diagnostics;

namespace Trellis.Api.Tests.Analysis;

/// <summary>A DestinationRule's SIMPLE/MUTUAL <c>credentialName</c> must resolve at apply: the Secret exists, holds what the mode needs, and its PEM parses.</summary>
public sealed class CredentialCheckTests
{
    private static readonly (string Certificate, string Key) Pair = NewPair();

    private static (string Certificate, string Key) NewPair()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest("CN=client", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private static string Rule(string mode) => $$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: external, namespace: egress}
        spec:
          host: api.external.example
          trafficPolicy:
            portLevelSettings:
            - port: {number: 80}
              tls: {mode: {{mode}}, credentialName: external-credential}
        """;

    private static string Secret(params (string Key, string Value)[] data) =>
        "apiVersion: v1\nkind: Secret\nmetadata: {name: external-credential, namespace: egress}\ndata:\n"
        + string.Concat(data.Select(d => $"  {d.Key}: {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(d.Value))}\n"));

    private static List<Diagnostic> Analyze(params string[] documents)
    {
        var read = ResourceReader.Read(string.Join("\n---\n", documents));
        Assert.True(read.Diagnostics.ExceptNotEnforced().Count == 0, string.Join("\n", read.Diagnostics.ExceptNotEnforced()));
        return Analyzer.Analyze(read.Resources).Where(d => d.Severity == Severity.Error).ToList();
    }

    [Fact]
    public void Analyze_SecretMissing_ReferencedResourceNotFound()
    {
        var finding = Assert.Single(Analyze(Rule("SIMPLE")));
        Assert.Equal(DiagnosticCodes.ReferencedResourceNotFound, finding.Code);
        Assert.Equal("spec.trafficPolicy.portLevelSettings[0].tls.credentialName", finding.Path);
        Assert.Contains("Secret egress/external-credential (credentialName) not found", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_GoodSecrets_NoFinding()
    {
        Assert.Empty(Analyze(Rule("SIMPLE"), Secret(("ca.crt", Pair.Certificate))));
        Assert.Empty(Analyze(Rule("SIMPLE"), Secret(("cacert", Pair.Certificate))));
        Assert.Empty(Analyze(Rule("MUTUAL"), Secret(("tls.crt", Pair.Certificate), ("tls.key", Pair.Key))));
        Assert.Empty(Analyze(Rule("MUTUAL"), Secret(("cert", Pair.Certificate), ("key", Pair.Key), ("cacert", Pair.Certificate))));
        Assert.Empty(Analyze(Rule("ISTIO_MUTUAL").Replace(", credentialName: external-credential", "", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("SIMPLE", "ca.crt", "not a certificate", "the CA certificate is not PEM")]
    [InlineData("SIMPLE", "tls.crt", "irrelevant", "has no CA certificate")]
    [InlineData("MUTUAL", "tls.crt", "only a certificate", "has no client certificate and key")]
    public void Analyze_BadSecret_RefusedOnTheRuleAndOnTheSecret(string mode, string key, string value, string expected)
    {
        var findings = Analyze(Rule(mode), Secret((key, value)));

        Assert.Equal(2, findings.Count);
        Assert.All(findings, f => Assert.Equal(DiagnosticCodes.InvalidValue, f.Code));
        Assert.All(findings, f => Assert.Contains(expected, f.Message, StringComparison.Ordinal));
        Assert.Equal(["DestinationRule/egress/external", "Secret/egress/external-credential"], findings.Select(f => f.Resource).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Analyze_MutualKeyOfAnotherCertificate_Refused()
    {
        var other = NewPair();
        var findings = Analyze(Rule("MUTUAL"), Secret(("tls.crt", Pair.Certificate), ("tls.key", other.Key)));

        Assert.Contains(findings, f => f.Resource == "DestinationRule/egress/external" && f.Message.Contains("not a valid PEM pair", StringComparison.Ordinal));
    }
}

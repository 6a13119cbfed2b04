using System.CommandLine;

namespace Trellis.Cli.Roles;

/// <summary><c>--api-tls</c> and <c>--tls-san</c> of the roles that run the control plane (<c>up</c>, <c>controlplane</c>).</summary>
public static class ApiTlsOptions
{
    public static Option<bool> Tls() => new("--api-tls")
    {
        Description = "Serve the API and the push stream over TLS with a certificate from the mesh CA (clients verify it with the CA's root-cert.pem; the CLI context gets it)",
    };

    public static Option<string[]> TlsSan() => new("--tls-san")
    {
        Description = "An extra DNS name or IP address for the API's certificate (repeatable), beside loopback, this host's name and the listen addresses",
    };

    /// <summary>Why one of the <c>--tls-san</c> names cannot go into a certificate, or null.</summary>
    public static string? Problem(string[]? names) =>
        (names ?? []).Select(Trellis.ControlPlane.Ca.ServingNames.Problem).FirstOrDefault(p => p is not null) is { } problem ? "--tls-san: " + problem : null;

    /// <summary>The root certificate clients verify the API with: <c>root-cert.pem</c> of the CA directory (made on first start when it is the control plane's own).</summary>
    public static string RootFile(string caDirectory) => Path.Combine(caDirectory, Trellis.ControlPlane.Ca.CaMaterial.RootCertFile);
}

namespace Trellis.Serving.Revisions;

/// <summary>The labels Knative puts on the objects a Service owns (<c>pkg/apis/serving/register.go</c>).</summary>
public static class ServingLabels
{
    public const string Group = "serving.knative.dev";
    public const string ApiVersion = Group + "/v1";

    public const string Service = Group + "/service";
    public const string Configuration = Group + "/configuration";
    public const string ConfigurationGeneration = Group + "/configurationGeneration";
    public const string Route = Group + "/route";
    public const string Revision = Group + "/revision";
}

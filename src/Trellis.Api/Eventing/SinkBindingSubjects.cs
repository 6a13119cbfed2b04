namespace Trellis.Api.Eventing;

/// <summary>
/// The kinds a SinkBinding can bind: those whose instances Trellis runs. Knative binds any PodSpecable (Jobs,
/// StatefulSets...), but Trellis runs only Deployments and Knative Services, so a binding to anything else could
/// never inject anything and is refused at apply.
/// </summary>
public static class SinkBindingSubjects
{
    public const string Describe = "apps/v1 Deployment and serving.knative.dev/v1 Service subjects";

    public static bool IsDeployment(string apiVersion, string kind) => apiVersion == "apps/v1" && kind == "Deployment";

    public static bool IsKnativeService(string apiVersion, string kind) => apiVersion == ResourceKinds.KnativeServing + "/v1" && kind == "Service";

    public static bool IsBindable(string apiVersion, string kind) => IsDeployment(apiVersion, kind) || IsKnativeService(apiVersion, kind);
}

using Trellis.Api;
using Trellis.Api.Serving;
using Trellis.Serving.Revisions;

namespace Trellis.Serving.Tests.Revisions;

internal static class Fixtures
{
    public static Resource Read(string yaml)
    {
        var result = ResourceReader.Read(yaml);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        return Assert.Single(result.Resources);
    }

    /// <summary>A Knative Service "hello" whose template says <paramref name="target"/>; <paramref name="extra"/> is
    /// appended under <c>spec:</c> (e.g. a traffic block).</summary>
    public static Resource Service(string target = "world", long generation = 1, string extra = "", string templateName = "") =>
        Read($$"""
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata:
              name: hello
              namespace: default
              generation: {{generation}}
            spec:
              template:
                metadata:
                  {{(templateName.Length > 0 ? "name: " + templateName : "labels: {app: hello}")}}
                  annotations: {autoscaling.knative.dev/min-scale: "0"}
                spec:
                  containerConcurrency: 20
                  containers:
                  - name: user
                    command: ["dotnet", "hello.dll"]
                    env: [{name: TARGET, value: {{target}}}]
            {{extra}}
            """);

    public static Dictionary<string, RevisionReadiness> Ready(params string[] names) => names.ToDictionary(n => n, _ => RevisionReadiness.Ready);

    /// <summary>Runs the Service reconciler the way a controller loop would: create what it asks for, feed it back.</summary>
    public static (ServiceResult Result, List<Resource> Revisions, Resource? Configuration) Converge(
        Resource service, List<Resource> revisions, Resource? configuration, IReadOnlyDictionary<string, RevisionReadiness> readiness, RouteStatus? previousRoute = null)
    {
        var first = ServiceReconciler.Reconcile(service, configuration, revisions, readiness, previousRoute: previousRoute);
        if (first.RevisionToCreate is { } created)
        {
            revisions = [.. revisions, created];
        }

        var second = ServiceReconciler.Reconcile(service, first.Configuration ?? configuration, revisions, readiness, previousRoute: first.RouteStatus ?? previousRoute);
        Assert.Null(second.RevisionToCreate);
        return (second, revisions, second.Configuration);
    }

    public static string Target(Resource revision) =>
        ((RevisionSpec)revision.Spec!).PodSpec.Containers[0].Env.Single(e => e.Name == "TARGET").Value!;
}

using Trellis.Api.Serving;

namespace Trellis.Api.Validation;

/// <summary>Knative Serving's rules (knative.dev/serving/pkg/apis/serving/v1): revision limits and traffic splits.</summary>
internal static class ServingValidator
{
    public static void Validate(KnativeServiceSpec spec, ValidationContext ctx)
    {
        Template(spec.Template, "spec.template", ctx);
        Traffic(spec.Traffic, "spec.traffic", ctx);
    }

    public static void Validate(ConfigurationSpec spec, ValidationContext ctx) => Template(spec.Template, "spec.template", ctx);

    public static void Validate(RouteSpec spec, ValidationContext ctx) => Traffic(spec.Traffic, "spec.traffic", ctx);

    public static void Revision(RevisionSpec spec, string path, ValidationContext ctx)
    {
        WorkloadValidator.PodSpec(spec.PodSpec, path, ctx, containerNamesRequired: false);

        // Knative serves one container per revision unless the others are sidecars; exactly one may expose a port.
        var withPorts = spec.PodSpec.Containers.Count(c => c.Ports.Count > 0);
        if (spec.PodSpec.Containers.Count > 1 && withPorts != 1)
        {
            ctx.Error($"{path}.containers", "with several containers exactly one must declare a port");
        }

        foreach (var (i, container) in spec.PodSpec.Containers.Index())
        {
            if (container.Ports.Count > 1)
            {
                ctx.Error($"{path}.containers[{i}].ports", "a container may expose at most one port");
            }
        }

        if (spec.ContainerConcurrency is { } cc && cc is < 0 or > 1000)
        {
            ctx.Error($"{path}.containerConcurrency", $"{cc} is not in 0..1000");
        }

        foreach (var (value, field) in new[] { (spec.TimeoutSeconds, "timeoutSeconds"), (spec.ResponseStartTimeoutSeconds, "responseStartTimeoutSeconds"), (spec.IdleTimeoutSeconds, "idleTimeoutSeconds") })
        {
            if (value < 0)
            {
                ctx.Error($"{path}.{field}", "must not be negative");
            }
        }

        if (spec is { TimeoutSeconds: { } timeout, ResponseStartTimeoutSeconds: { } start } && start > timeout)
        {
            ctx.Error($"{path}.responseStartTimeoutSeconds", "must not exceed timeoutSeconds");
        }
    }

    private static void Template(RevisionTemplateSpec template, string path, ValidationContext ctx)
    {
        if (template.Metadata?.Name is { } name && !Names.IsDns1123Label(name))
        {
            ctx.Error($"{path}.metadata.name", $"\"{name}\" must be an RFC 1123 label");
        }

        Checks.Labels(template.Metadata?.Labels, $"{path}.metadata.labels", ctx);
        Revision(template.Spec, $"{path}.spec", ctx);
    }

    private static void Traffic(IReadOnlyList<TrafficTarget> traffic, string path, ValidationContext ctx)
    {
        if (traffic.Count == 0)
        {
            return;
        }

        Checks.Unique(traffic, t => t.Tag, path, "tag", ctx);
        long sum = 0;
        for (var i = 0; i < traffic.Count; i++)
        {
            var target = traffic[i];
            var targetPath = $"{path}[{i}]";
            if (target.Percent is { } percent)
            {
                if (percent is < 0 or > 100)
                {
                    ctx.Error($"{targetPath}.percent", $"{percent} is not in 0..100");
                }

                sum += percent;
            }

            if (target.LatestRevision == true && target.RevisionName is not null)
            {
                ctx.Error($"{targetPath}.revisionName", "revisionName must not be set with latestRevision: true");
            }

            if (target.LatestRevision == false && target.RevisionName is null)
            {
                ctx.Error($"{targetPath}.revisionName", "latestRevision: false needs a revisionName");
            }

            if (target.RevisionName is not null && target.ConfigurationName is not null)
            {
                ctx.Error(targetPath, "revisionName and configurationName are mutually exclusive");
            }

            if (target.Tag is { } tag && !Names.IsDns1123Label(tag))
            {
                ctx.Error($"{targetPath}.tag", $"\"{tag}\" must be an RFC 1123 label");
            }

            if (target.Url is not null)
            {
                ctx.Error($"{targetPath}.url", "url is set by the system and may not be written");
            }
        }

        if (sum != 100)
        {
            ctx.Error(path, $"traffic percents must sum to 100, they sum to {sum}");
        }
    }
}

using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>Checks of the serverless serving members of a snapshot (<see cref="InstanceServingConfig"/>, <see cref="ActivationConfig"/>); part of <see cref="SnapshotValidator"/>.</summary>
internal static class ServingValidator
{
    public static void ValidateInstance(InstanceServingConfig? serving, string path, List<string> errors)
    {
        if (serving is null)
        {
            return;
        }

        if (serving.ContainerConcurrency < 0)
        {
            errors.Add($"{path}.containerConcurrency: {serving.ContainerConcurrency} is negative (0 means unlimited)");
        }

        if (serving.QueueDepth < 0)
        {
            errors.Add($"{path}.queueDepth: {serving.QueueDepth} is negative");
        }

        RequirePositive(serving.Timeout, $"{path}.timeout", errors);
        RequirePositive(serving.ResponseStartTimeout, $"{path}.responseStartTimeout", errors);
        RequirePositive(serving.IdleTimeout, $"{path}.idleTimeout", errors);
    }

    public static void ValidateActivation(ActivationConfig? activation, string path, List<string> errors)
    {
        if (activation is null)
        {
            return;
        }

        if (activation.QueueCapacity < 1)
        {
            errors.Add($"{path}.queueCapacity: {activation.QueueCapacity} must be at least 1");
        }

        if (activation.EndpointCapacity < 0)
        {
            errors.Add($"{path}.endpointCapacity: {activation.EndpointCapacity} must not be negative");
        }

        RequirePositive(activation.Timeout, $"{path}.timeout", errors);
    }

    private static void RequirePositive(TimeSpan? value, string path, List<string> errors)
    {
        if (value is { } v && v <= TimeSpan.Zero)
        {
            errors.Add($"{path}: must be positive");
        }
    }
}

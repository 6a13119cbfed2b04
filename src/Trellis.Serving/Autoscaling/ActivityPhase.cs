namespace Trellis.Serving.Autoscaling;

/// <summary>Knative's PodAutoscaler <c>Active</c> condition: Unknown (activating), True (active), False (inactive).</summary>
public enum ActivityPhase
{
    /// <summary>Instances are wanted but not enough are ready yet; requests wait in the activator.</summary>
    Activating,

    /// <summary>Enough instances are ready.</summary>
    Active,

    /// <summary>Scaled, or being scaled, to zero; the activator is in the path.</summary>
    Inactive,
}

namespace Trellis.Api.Diagnostics;

/// <summary>
/// Every code Trellis reports. Codes never change meaning and are never reused; docs/diagnostics.md lists them.
/// TRL00xx are reader and validation errors (the document is rejected), TRL01xx analyzer findings, and IST codes keep
/// the number istioctl analyze gives the same finding so that scripts written for Istio keep working.
/// </summary>
public static class DiagnosticCodes
{
    /// <summary>The text is not well-formed YAML or JSON.</summary>
    public const string YamlSyntax = "TRL0001";

    /// <summary>A field the kind does not define (usually a typo).</summary>
    public const string UnknownField = "TRL0002";

    /// <summary>A value of the wrong type: a string for a number, a map for a list, <c>abc</c> for a boolean.</summary>
    public const string WrongType = "TRL0003";

    /// <summary>A required field is absent or null.</summary>
    public const string MissingField = "TRL0004";

    /// <summary>The <c>apiVersion</c>/<c>kind</c> pair is not one Trellis serves.</summary>
    public const string UnknownKind = "TRL0005";

    /// <summary>A value of the right type that the kind's rules reject (bad name, port out of range, weights not summing to 100…).</summary>
    public const string InvalidValue = "TRL0006";

    /// <summary>The same key twice in one mapping.</summary>
    public const string DuplicateKey = "TRL0007";

    /// <summary>Two list entries that must be unique share a name or key.</summary>
    public const string DuplicateEntry = "TRL0008";

    /// <summary>Warning: a DestinationRule subset whose labels select no workload of its host.</summary>
    public const string SubsetSelectsNoWorkload = "TRL0101";

    /// <summary>Warning: the analyzer hit an unexpected problem and skipped a resource; the other findings stand.</summary>
    public const string AnalysisSkipped = "TRL0100";

    /// <summary>
    /// Warning: a field that is read, validated and stored but has no behaviour yet ("accepted, not enforced");
    /// <see cref="Validation.NotEnforced"/> lists them.
    /// </summary>
    public const string AcceptedNotEnforced = "TRL0200";

    /// <summary>A resource refers to another (host, subset, gateway) that is not in the set (istioctl's ReferencedResourceNotFound).</summary>
    public const string ReferencedResourceNotFound = "IST0101";
}

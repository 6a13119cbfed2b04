using System.Collections.Frozen;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Trellis.Api.Diagnostics;
using Trellis.Api.Reading;
using Trellis.Api.Schema;
using Trellis.Api.Validation;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api;

/// <summary>
/// Reads resources from YAML or JSON text (JSON is YAML), many documents per text separated by <c>---</c>.
/// Every document is bound and validated and every error reported; a document with any error yields no resource.
/// </summary>
public static partial class ResourceReader
{
    private static readonly FrozenSet<string> EnvelopeKeys = FrozenSet.Create(StringComparer.Ordinal, "apiVersion", "kind", "metadata", "spec", "status");
    private static readonly FrozenSet<string> TopLevelSpecEnvelope = FrozenSet.Create(StringComparer.Ordinal, "apiVersion", "kind", "metadata", "status");

    public static ReadResult Read(string text, string source = "<input>")
    {
        var stream = new YamlStream();
        var scanner = new Scanner(new StringReader(text));
        try
        {
            stream.Load(new Parser(scanner));
        }
        catch (YamlException ex)
        {
            // YamlDotNet stops at the first syntax error, so a malformed text gives exactly one diagnostic.
            var message = LocationPrefix().Replace(ex.InnerException is ArgumentException && ex.Message.Contains("Duplicate key", StringComparison.Ordinal) ? "duplicate key" : ex.Message, "");
            var code = message.Contains("duplicate key", StringComparison.OrdinalIgnoreCase) ? DiagnosticCodes.DuplicateKey : DiagnosticCodes.YamlSyntax;
            var (line, column) = ((int)ex.Start.Line, (int)ex.Start.Column);
            if (code == DiagnosticCodes.YamlSyntax)
            {
                message = YamlErrors.Plain(message);
                (line, column) = message.StartsWith("a tab", StringComparison.Ordinal) && YamlErrors.IndentingTab(text) is { } tab ? tab : (line, column);
            }

            return new ReadResult([], [new Diagnostic(code, Severity.Error, message, "", source, line, column)]);
        }
        catch (InvalidOperationException ex)
        {
            // YamlDotNet's scanner throws this instead of a YamlException on some malformed flow collections.
            var at = scanner.CurrentPosition;
            return new ReadResult([], [new Diagnostic(DiagnosticCodes.YamlSyntax, Severity.Error, $"malformed YAML: {ex.Message}", "", source, (int)at.Line, (int)at.Column)]);
        }

        var resources = new List<Resource>();
        var diagnostics = new List<Diagnostic>();
        foreach (var document in stream.Documents)
        {
            if (Scalars.IsNull(document.RootNode))
            {
                continue;
            }

            var context = new BindContext(source);
            var resource = ReadDocument(document.RootNode, context);
            // Binding and validation find problems in different orders; the reader reports them in text order.
            diagnostics.AddRange(context.Diagnostics.OrderBy(d => d.Line).ThenBy(d => d.Column));
            if (resource is not null && context.ErrorCount == 0)
            {
                resources.Add(resource);
            }
        }

        return new ReadResult(resources, diagnostics);
    }

    private static Resource? ReadDocument(YamlNode root, BindContext context)
    {
        context.Remember("", root.Start);
        if (root is not YamlMappingNode map)
        {
            context.Error(DiagnosticCodes.WrongType, $"a document must be a map with apiVersion, kind and metadata, got {Scalars.Describe(root)}", "", root.Start);
            return null;
        }

        var binder = new YamlBinder(context);
        var entries = map.Children
            .Where(kv => kv.Key is YamlScalarNode)
            .GroupBy(kv => ((YamlScalarNode)kv.Key).Value ?? "", StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

        var apiVersion = ReadEnvelopeString(entries, "apiVersion", binder, context, map);
        var kind = ReadEnvelopeString(entries, "kind", binder, context, map);
        if (apiVersion is null || kind is null)
        {
            return null;
        }

        var info = ResourceKinds.Find(apiVersion, kind);
        if (info is null)
        {
            ReportUnknownKind(apiVersion, kind, entries, context);
            return null;
        }

        // Metadata first, so that every later diagnostic can name the resource.
        ObjectMeta? metadata = null;
        if (entries.TryGetValue("metadata", out var metaEntry) && !Scalars.IsNull(metaEntry.Value))
        {
            context.Remember("metadata", metaEntry.Key.Start);
            var before = context.ErrorCount;
            metadata = binder.Bind(metaEntry.Value, typeof(ObjectMeta), "metadata") as ObjectMeta;
            if (metadata is not null && string.IsNullOrEmpty(metadata.Name))
            {
                context.Error(DiagnosticCodes.MissingField, "missing required field \"name\"", "metadata.name", metaEntry.Key.Start);
            }

            if (metadata is not null)
            {
                context.Resource = $"{kind}/{metadata.Namespace ?? ResourceKey.DefaultNamespace}/{metadata.Name}";
                if (context.ErrorCount == before)
                {
                    Report(MetadataValidator.Validate(metadata, info), context);
                }
            }
        }
        else
        {
            context.Error(DiagnosticCodes.MissingField, "missing required field \"metadata\"", "metadata", map.Start);
        }

        var specErrorsBefore = context.ErrorCount;
        var spec = ReadSpec(info, map, entries, binder, context);
        JsonObject? status = null;
        if (entries.TryGetValue("status", out var statusEntry) && !Scalars.IsNull(statusEntry.Value))
        {
            status = binder.Bind(statusEntry.Value, typeof(JsonObject), "status") as JsonObject;
        }

        if (!info.SpecAtTopLevel)
        {
            foreach (var (name, entry) in entries.Where(e => !EnvelopeKeys.Contains(e.Key)))
            {
                context.Error(DiagnosticCodes.UnknownField, $"unknown field \"{name}\"", name, entry.Key.Start);
            }
        }

        if (metadata is null)
        {
            return null;
        }

        var resource = new Resource(apiVersion, kind, metadata, spec, status);
        if (context.ErrorCount == specErrorsBefore && spec is not null)
        {
            // Semantic rules assume a well-typed spec, so they run only on specs that bound without errors.
            Report(ResourceValidator.ValidateSpec(resource), context);
            if (context.ErrorCount == specErrorsBefore)
            {
                Report(NotEnforced.Check(resource), context);
            }
        }

        return resource;
    }

    private static object? ReadSpec(KindInfo info, YamlMappingNode map, Dictionary<string, KeyValuePair<YamlNode, YamlNode>> entries, YamlBinder binder, BindContext context)
    {
        if (info.SpecType is null)
        {
            if (entries.TryGetValue("spec", out var unexpected))
            {
                context.Error(DiagnosticCodes.UnknownField, $"{info.Kind} has no spec", "spec", unexpected.Key.Start);
            }

            return null;
        }

        var model = TypeModel.For(info.SpecType);
        if (info.SpecAtTopLevel)
        {
            return binder.BindObject(map, model, "", TopLevelSpecEnvelope);
        }

        if (!entries.TryGetValue("spec", out var specEntry) || Scalars.IsNull(specEntry.Value))
        {
            if (model.HasRequiredFields)
            {
                context.Error(DiagnosticCodes.MissingField, "missing required field \"spec\"", "spec", specEntry.Key?.Start ?? map.Start);
                return null;
            }

            return TypeModel.Create(info.SpecType);
        }

        context.Remember("spec", specEntry.Key.Start);
        return binder.Bind(specEntry.Value, info.SpecType, "spec");
    }

    private static string? ReadEnvelopeString(Dictionary<string, KeyValuePair<YamlNode, YamlNode>> entries, string name, YamlBinder binder, BindContext context, YamlMappingNode map)
    {
        if (!entries.TryGetValue(name, out var entry) || Scalars.IsNull(entry.Value))
        {
            context.Error(DiagnosticCodes.MissingField, $"missing required field \"{name}\"", name, map.Start);
            return null;
        }

        context.Remember(name, entry.Key.Start);
        return binder.Bind(entry.Value, typeof(string), name) as string;
    }

    private static void ReportUnknownKind(string apiVersion, string kind, Dictionary<string, KeyValuePair<YamlNode, YamlNode>> entries, BindContext context)
    {
        var sameKind = ResourceKinds.All.Where(k => k.Kind == kind).ToList();
        var served = sameKind.SelectMany(k => k.Versions.Select(v => k.Group.Length == 0 ? v : $"{k.Group}/{v}")).ToList();
        if (served.Count > 0)
        {
            context.Error(DiagnosticCodes.UnknownKind, $"kind {kind} is not served in apiVersion {apiVersion}; served: {string.Join(", ", served)}", "apiVersion", entries["apiVersion"].Key.Start);
        }
        else
        {
            context.Error(DiagnosticCodes.UnknownKind, $"unknown kind {kind} (apiVersion {apiVersion})", "kind", entries["kind"].Key.Start);
        }
    }

    private static void Report(IEnumerable<Diagnostic> findings, BindContext context)
    {
        foreach (var finding in findings)
        {
            var mark = context.Locate(finding.Path);
            context.Diagnostics.Add(finding with { Source = context.Source, Line = (int)mark.Line, Column = (int)mark.Column, Resource = context.Resource });
        }
    }

    // YamlDotNet prefixes messages with "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): "; the diagnostic has the position already.
    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex LocationPrefix();
}

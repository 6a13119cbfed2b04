using System.CommandLine;
using System.CommandLine.Parsing;

namespace Trellis.Cli;

/// <summary>What is wrong with a command line before any verb runs: the parser's errors, and options it does not know.</summary>
public static class CommandLine
{
    /// <summary>
    /// The parser's errors (a missing command, argument or required option), plus every argument that
    /// looks like an option: System.CommandLine binds an unknown <c>--bogus</c> to a free argument
    /// (<c>get pods --bogus</c> would look for a pod named "--bogus"). A lone <c>-</c> (stdin) is an argument.
    /// </summary>
    public static IReadOnlyList<string> Errors(ParseResult parse) =>
        parse.Errors.Select(e => e.Message)
            .Concat(parse.CommandResult.Children.OfType<ArgumentResult>()
                .SelectMany(a => a.Tokens)
                .Where(t => t.Value.Length > 1 && t.Value[0] == '-')
                .Select(t => $"unknown option '{t.Value}'"))
            .Distinct()
            .ToList();

    /// <summary>The command as typed so far (<c>trellis get</c>), for the usage hint.</summary>
    public static string Path(ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? r = parse.CommandResult; r is CommandResult c; r = c.Parent)
        {
            names.Insert(0, c.Command is RootCommand ? "trellis" : c.Command.Name);
        }

        return string.Join(' ', names);
    }
}

using System.CommandLine;
using System.CommandLine.Parsing;

namespace CreditGrants.Cli;

/// <summary>A command line that does not parse, said in one line: what is wrong, the likely intended word, and where help is.</summary>
internal static class CommandLineErrors
{
    private const string PolarTokenOption = "--polar-token";

    public static string Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var path = CommandPath(parse.CommandResult);
        var help = $"Run '{path} --help' for usage.";
        if (parse.UnmatchedTokens.Count > 0)
        {
            var token = parse.UnmatchedTokens[0];
            var isOption = token.StartsWith('-');
            var candidates = isOption
                ? OptionsOf(parse.CommandResult).SelectMany(o => o.Aliases.Prepend(o.Name))
                : command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name);
            var what = isOption ? "unknown option" : command.Subcommands.Count > 0 ? "unknown command" : "unexpected argument";
            if (token.Equals(PolarTokenOption, StringComparison.OrdinalIgnoreCase) || token.StartsWith(PolarTokenOption + "=", StringComparison.OrdinalIgnoreCase))
            {
                // Never repeated: its value may be the token itself. A token on the command line is seen in the process list and shell history.
                return $"{what} '{PolarTokenOption}': credits takes no token on the command line; put it in a file and pass --polar-token-file <file>, "
                    + $"or set {PolarConnection.TokenVariable}. {help}";
            }

            if (isOption && candidates.Contains(token))
            {
                // The command takes it, so it was given before the command's name (credits --polar-server sandbox grant …).
                return $"'{token}' goes after the command's name: {path} {token} …. {help}";
            }

            if (Closest(token, candidates) is { } suggestion)
            {
                return $"{what} '{token}' for '{path}'; did you mean '{suggestion}'? {help}";
            }

            // An option of other commands (--data-dir on 'bulk status', --polar-server before the command's name): say whose it is.
            var owners = isOption ? CommandsTaking(token, Root(parse.CommandResult), "credits").ToList() : [];
            return owners.Count > 0
                ? $"{what} '{token}' for '{path}': it is an option of {string.Join(", ", owners.Select(o => $"'{o}'"))}, after the command's name. {help}"
                : $"{what} '{token}' for '{path}'. {help}";
        }

        if (command.Subcommands.Count > 0 && command.Action is null)
        {
            return $"'{path}' needs a command: {string.Join(", ", command.Subcommands.Select(c => c.Name))}. {help}";
        }

        return $"{string.Join(" ", parse.Errors.Select(e => e.Message.TrimEnd('.') + ".").Distinct())} {help}";
    }

    /// <summary>The word most like <paramref name="token"/>, if one is close enough to be a typo of it.</summary>
    internal static string? Closest(string token, IEnumerable<string> candidates)
    {
        var best = candidates
            .Select(c => (Name: c, Distance: Distance(token.ToLowerInvariant(), c.ToLowerInvariant())))
            .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(1, Math.Min(2, best.Name.TrimStart('-').Length / 3)) ? best.Name : null;
    }

    /// <summary>Edit distance, counting a swap of two neighbours as one edit (grnat → grant).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    private static IEnumerable<Option> OptionsOf(CommandResult result)
    {
        foreach (var option in result.Command.Options)
        {
            yield return option;
        }

        for (var parent = result.Parent as CommandResult; parent is not null; parent = parent.Parent as CommandResult)
        {
            foreach (var option in parent.Command.Options.Where(o => o.Recursive))
            {
                yield return option;
            }
        }
    }

    private static Command Root(CommandResult result)
    {
        while (result.Parent is CommandResult parent)
        {
            result = parent;
        }

        return result.Command;
    }

    private static IEnumerable<string> CommandsTaking(string option, Command command, string path)
    {
        if (command.Options.Any(o => !o.Recursive && (o.Name == option || o.Aliases.Contains(option))))
        {
            yield return path;
        }

        foreach (var subcommand in command.Subcommands)
        {
            foreach (var owner in CommandsTaking(option, subcommand, $"{path} {subcommand.Name}"))
            {
                yield return owner;
            }
        }
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (var current = result; current is not null; current = current.Parent as CommandResult)
        {
            names.Add(current.Parent is null ? "credits" : current.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }
}

using System.Globalization;
using System.Text;

namespace CreditGrants.Identity;

/// <summary>What is wrong with an identifier's characters, from the most to the least certain refusal.</summary>
public enum IdentifierProblemKind
{
    /// <summary>A control character (Unicode category Cc: NUL, tab, newline, ESC, …).</summary>
    Control,
    /// <summary>Half of a surrogate pair: no character at all, text broken somewhere on its way.</summary>
    UnpairedSurrogate,
    /// <summary>U+FFFD, what a decoder leaves for bytes it could not read.</summary>
    Replacement,
    /// <summary>An invisible format character (Unicode category Cf: zero-width characters, bidi controls, the BOM).</summary>
    Format,
    /// <summary>Not in Unicode normalization form C: looks like another string that differs only in how it is encoded.</summary>
    NotNormalized,
}

/// <summary>One finding: its kind and a message naming the code points and their positions (1-based, in characters).</summary>
public sealed record IdentifierProblem(IdentifierProblemKind Kind, string Message)
{
    /// <summary>
    /// Whether the same string can still name a customer Polar already holds: an id typed in another normalization or with
    /// invisible characters is refused unless that exact string is known to be a customer's external id.
    /// </summary>
    public bool CanBeAnExistingId => Kind is IdentifierProblemKind.Format or IdentifierProblemKind.NotNormalized;
}

/// <summary>
/// The one definition of an identifier, for every way in (HTTP, CLI, bulk files, campaigns): external customer ids, grant
/// ids, meter names and emails. <see cref="Trim"/> removes the same Unicode spaces everywhere. <see cref="Check"/> refuses
/// what would make a lookalike of another id (DESIGN.md, principle 9): control characters, unpaired surrogates, U+FFFD,
/// format characters (category Cf: zero-width characters, bidi marks and overrides, the byte order mark) and any text not
/// in Unicode normalization form C. Messages name each code point and its position, so the sender can see what to remove.
/// </summary>
public static class Identifier
{
    /// <summary>
    /// Trims every Unicode white space (category Zs, line and paragraph separators, and the ASCII/Latin-1 spaces, tabs and
    /// line breaks: <see cref="char.IsWhiteSpace(char)"/>) from both ends; zero-width characters are format characters,
    /// not spaces, and are refused by <see cref="Check"/> instead.
    /// </summary>
    public static string Trim(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Trim();
    }

    /// <summary>The problems of <paramref name="value"/>'s characters, in the order of <see cref="IdentifierProblemKind"/>; empty when it is a safe id.</summary>
    public static IReadOnlyList<IdentifierProblem> Check(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var problems = new List<IdentifierProblem>();
        var controls = new List<string>();
        var surrogates = new List<string>();
        var replacements = new List<string>();
        var formats = new List<string>();
        var position = 0;
        for (var i = 0; i < value.Length; i++)
        {
            position++;
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsSurrogate(c))
            {
                surrogates.Add(Describe(c, position));
            }
            else if (char.IsControl(c))
            {
                controls.Add(Describe(c, position));
            }
            else if (c == '\uFFFD')
            {
                replacements.Add(Describe(c, position));
            }
            else if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format)
            {
                formats.Add(Describe(c, position));
            }
        }

        if (controls.Count > 0)
        {
            problems.Add(new(IdentifierProblemKind.Control, $"contains the control character {List(controls)}; remove it"));
        }

        if (surrogates.Count > 0)
        {
            problems.Add(new(IdentifierProblemKind.UnpairedSurrogate,
                $"contains {List(surrogates)}, half of a surrogate pair and no character: the text was cut or mis-encoded on its way; send it as it was written"));
        }

        if (replacements.Count > 0)
        {
            problems.Add(new(IdentifierProblemKind.Replacement,
                $"contains {List(replacements)}, the mark of text read in the wrong encoding; send the text as it was written, in UTF-8"));
        }

        if (formats.Count > 0)
        {
            problems.Add(new(IdentifierProblemKind.Format,
                $"contains the invisible {List(formats)}, which makes it a lookalike of an id without it; remove it"));
        }

        if (surrogates.Count == 0 && !value.IsNormalized(NormalizationForm.FormC))
        {
            var normalized = value.Normalize(NormalizationForm.FormC);
            problems.Add(new(IdentifierProblemKind.NotNormalized,
                $"is not in Unicode normalization form C ({Decomposed(value)}), so it differs from the id '{Display.Escape(normalized)}' that looks the same; send it as '{Display.Escape(normalized)}'"));
        }

        return problems;
    }

    /// <summary>"U+200D (zero width joiner) at character 5": a code point, its name where known, and its position.</summary>
    public static string Describe(int codePoint, int position) =>
        Names.TryGetValue(codePoint, out var name)
            ? $"U+{codePoint:X4} ({name}) at character {position}"
            : $"U+{codePoint:X4} at character {position}";

    private static string List(List<string> items) =>
        items.Count <= 3 ? string.Join(", ", items) : $"{string.Join(", ", items.Take(3))} and {items.Count - 3} more";

    // The characters that do not stay in NFC: each combining mark (or other changed run) with its position.
    private static string Decomposed(string value)
    {
        var marks = new List<string>();
        var position = 0;
        foreach (var rune in value.EnumerateRunes())
        {
            position++;
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
                || !rune.ToString().IsNormalized(NormalizationForm.FormC))
            {
                marks.Add(Describe(rune.Value, position));
            }
        }

        return marks.Count == 0 ? "its characters compose differently" : "the combining " + List(marks);
    }

    private static readonly Dictionary<int, string> Names = new()
    {
        [0x00] = "NUL", [0x07] = "bell", [0x08] = "backspace", [0x09] = "tab", [0x0A] = "line feed", [0x0D] = "carriage return",
        [0x1B] = "escape", [0x7F] = "delete", [0x85] = "next line", [0x9B] = "control sequence introducer",
        [0x9D] = "operating system command", [0x00AD] = "soft hyphen", [0x034F] = "combining grapheme joiner",
        [0x0301] = "combining acute accent", [0x0300] = "combining grave accent", [0x0308] = "combining diaeresis",
        [0x0303] = "combining tilde", [0x0327] = "combining cedilla", [0x061C] = "Arabic letter mark",
        [0x180E] = "Mongolian vowel separator", [0x200B] = "zero width space", [0x200C] = "zero width non-joiner",
        [0x200D] = "zero width joiner", [0x200E] = "left-to-right mark", [0x200F] = "right-to-left mark",
        [0x202A] = "left-to-right embedding", [0x202B] = "right-to-left embedding", [0x202C] = "pop directional formatting",
        [0x202D] = "left-to-right override", [0x202E] = "right-to-left override", [0x2060] = "word joiner",
        [0x2066] = "left-to-right isolate", [0x2067] = "right-to-left isolate", [0x2068] = "first strong isolate",
        [0x2069] = "pop directional isolate", [0xFEFF] = "byte order mark", [0xFFFD] = "replacement character",
    };
}

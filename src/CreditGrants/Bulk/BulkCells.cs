using System.Globalization;
using System.Text.RegularExpressions;
using CreditGrants.Grants;

namespace CreditGrants.Bulk;

/// <summary>
/// The rules for a bulk file's cells that a spreadsheet makes necessary: units written in a locale's way are read only when
/// they cannot mean two things, and ids that a spreadsheet rewrote as numbers are refused.
/// </summary>
public static partial class BulkCells
{
    /// <summary>
    /// Reads a units cell as an invariant number (<c>1234.5</c>), or says why it cannot be read. Digits with one decimal
    /// mark are accepted: <c>.</c> in every file, and <c>,</c> in semicolon and tab files (as Excel writes in many European
    /// locales). One mark followed by exactly three digits (<c>1.000</c>, <c>2,500</c>) could be a thousands separator, so it
    /// is refused in every file, naming both readings; so are thousands separators, exponents and anything else.
    /// </summary>
    /// <param name="cell">The trimmed cell.</param>
    /// <param name="separator">The file's field separator.</param>
    /// <returns>The number as invariant text for the grant rules (a leading <c>-</c> kept, so they refuse it with their own message), or an error.</returns>
    public static (string? Units, FieldError? Error) Units(string cell, char separator)
    {
        ArgumentNullException.ThrowIfNull(cell);
        var decimalComma = separator is ';' or '\t';
        var accepted = decimalComma
            ? "digits with '.' or ',' for decimals, such as 100 or 12.5 or 12,5"
            : "digits with '.' for decimals, such as 100 or 12.5";
        var match = NumberPattern().Match(cell);
        if (!match.Success)
        {
            var why = ThousandsPattern().IsMatch(cell)
                ? "looks like a number with thousands separators; write it without them"
                : "is not a number";
            return (null, new FieldError("units", cell, $"{why}: {accepted}"));
        }

        var sign = match.Groups["sign"].Value;
        var whole = match.Groups["whole"].Value;
        var mark = match.Groups["mark"].Value;
        var fraction = match.Groups["fraction"].Value;
        if (mark.Length == 0)
        {
            return (sign + whole, null);
        }

        if (fraction.Length == 3 && whole.Length <= 3 && whole[0] != '0')
        {
            var asDecimal = (sign + whole + "." + fraction).TrimEnd('0').TrimEnd('.');
            var asThousands = sign + whole + fraction;
            return (null, new FieldError("units", cell,
                $"could mean {asDecimal} ('{mark}' as the decimal mark) or {asThousands} ('{mark}' separating thousands); " +
                $"write {asThousands} or {asDecimal} with no separator, or {asDecimal}{(asDecimal.Contains('.', StringComparison.Ordinal) ? "" : ".0")} to mean the decimal"));
        }

        if (mark == "," && !decimalComma)
        {
            return (null, new FieldError("units", cell, $"has a decimal comma, which comma-separated files do not take: {accepted}"));
        }

        return (sign + whole + "." + fraction, null);
    }

    /// <summary>
    /// Reads a <c>carry_over</c> cell: empty (or no column) is <c>false</c>; <c>true</c> or <c>false</c> in any case (as a
    /// spreadsheet writes them); anything else (<c>yes</c>, <c>1</c>) is refused, naming what is accepted.
    /// </summary>
    public static (bool CarryOver, FieldError? Error) CarryOver(string? cell) => cell switch
    {
        null or "" => (false, null),
        _ when string.Equals(cell, "true", StringComparison.OrdinalIgnoreCase) => (true, null),
        _ when string.Equals(cell, "false", StringComparison.OrdinalIgnoreCase) => (false, null),
        _ => (false, FieldError.Of("carryOver", cell, "accepted: true, false, or empty (false)")),
    };

    /// <summary>
    /// Whether an id cell holds a number in exponent notation (<c>7.12345E+15</c>, <c>1E+10</c>): what a spreadsheet shows, and
    /// saves, for a long numeric id, whose digits are then lost. Long all-digit ids are not affected.
    /// </summary>
    public static FieldError? RewrittenId(string field, string? cell) =>
        cell is not null && ExponentPattern().IsMatch(cell)
            ? new FieldError(field, cell,
                "looks like a number a spreadsheet rewrote in exponent notation, so the real id is lost: format the column as Text, " +
                "enter the ids again and export the file again")
            : null;

    [GeneratedRegex(@"^(?<sign>-?)(?<whole>[0-9]+)(?:(?<mark>[.,])(?<fraction>[0-9]+))?$", RegexOptions.CultureInvariant)]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"^-?[0-9]{1,3}(?:[.,' \u00A0\u202F][0-9]{3})+(?:[.,][0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex ThousandsPattern();

    [GeneratedRegex(@"^[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex ExponentPattern();
}

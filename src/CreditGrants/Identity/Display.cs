using System.Globalization;
using System.Text;

namespace CreditGrants.Identity;

/// <summary>
/// Values echoed back to a person or a file (error messages, results files, logs, the terminal) made safe to print:
/// control characters, invisible format characters (bidi overrides included) and unpaired surrogates appear as
/// <c>\u001B</c>-style escapes, so no input can move the cursor, retitle a window, erase a line or reorder what is shown
/// (CWE-150); in text not in Unicode NFC, combining marks are escaped too (<c>jose\u0301</c>), so it can be told from the
/// NFC text it looks like. Lengths are counted as Polar counts them (code points) and text is shortened in whole text elements, never
/// through a surrogate pair or a combining sequence.
/// </summary>
public static class Display
{
    /// <summary>The text with every control, format and lone surrogate character written as <c>\uXXXX</c>.</summary>
    public static string Escape(string? value)
    {
        if (value is null)
        {
            return "";
        }

        // In text that is not in NFC, combining marks are escaped too, so that it can be told from the NFC text it looks like.
        var unnormalized = !IsNormalized(value);
        if (!unnormalized && !value.Any(NeedsEscape))
        {
            return value;
        }

        var text = new StringBuilder(value.Length + 16);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                var codePoint = char.ConvertToUtf32(c, value[i + 1]);
                if (Rune.GetUnicodeCategory(new Rune(codePoint)) == UnicodeCategory.Format)
                {
                    text.Append(CultureInfo.InvariantCulture, $"\\U{codePoint:X8}");
                }
                else
                {
                    text.Append(c).Append(value[i + 1]);
                }

                i++;
            }
            else if (NeedsEscape(c) || (unnormalized && CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark
                         or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
            {
                text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                text.Append(c);
            }
        }

        return text.ToString();
    }

    /// <summary>How many characters Polar counts in a value: Unicode code points (an emoji is one, not two UTF-16 units).</summary>
    public static int Length(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var count = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }

            count++;
        }

        return count;
    }

    /// <summary>
    /// The escaped value, shortened to at most <paramref name="maxTextElements"/> text elements (what a reader sees as one
    /// character) with "…" appended when it was cut.
    /// </summary>
    public static string Shorten(string? value, int maxTextElements = 80)
    {
        var escaped = Escape(value);
        var elements = new StringInfo(escaped);
        return elements.LengthInTextElements <= maxTextElements
            ? escaped
            : elements.SubstringByTextElements(0, maxTextElements - 1) + "…";
    }

    private static bool IsNormalized(string value)
    {
        try
        {
            return value.IsNormalized(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            // A lone surrogate: escaped anyway.
            return true;
        }
    }

    private static bool NeedsEscape(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format;
}

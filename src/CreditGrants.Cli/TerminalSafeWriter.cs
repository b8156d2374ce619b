using System.Globalization;
using System.Text;

namespace CreditGrants.Cli;

/// <summary>
/// What the CLI prints, made safe for a terminal: every control character but line breaks and tabs, and the bidi
/// embeddings, overrides and isolates, are written as <c>\u001B</c>-style escapes, so a value from a file or from Polar can
/// neither retitle the window, erase a line, nor reorder what is shown (CWE-150). The Spectre console (progress bar,
/// colours) writes to <see cref="Inner"/>, the writer underneath, as it emits escape sequences of its own.
/// </summary>
public sealed class TerminalSafeWriter(TextWriter inner) : TextWriter
{
    /// <summary>The writer underneath, for output that is ours to colour.</summary>
    public TextWriter Inner { get; } = inner;

    public override Encoding Encoding => Inner.Encoding;

    public override IFormatProvider FormatProvider => Inner.FormatProvider;

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string NewLine
    {
        get => Inner.NewLine;
        set => Inner.NewLine = value;
    }

    /// <summary>Wraps a writer once (a wrapped writer is returned as it is).</summary>
    public static TextWriter Wrap(TextWriter writer) => writer as TerminalSafeWriter ?? new TerminalSafeWriter(writer);

    /// <summary>The writer under a wrapped one, or the writer itself.</summary>
    public static TextWriter Unwrap(TextWriter writer) => writer is TerminalSafeWriter safe ? safe.Inner : writer;

    /// <summary>The text as it is printed: unsafe characters as <c>\uXXXX</c>.</summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Any(IsUnsafe))
        {
            return text ?? "";
        }

        var safe = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (IsUnsafe(c))
            {
                safe.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                safe.Append(c);
            }
        }

        return safe.ToString();
    }

    public override void Write(char value)
    {
        if (IsUnsafe(value))
        {
            Inner.Write(Escape(value.ToString()));
        }
        else
        {
            Inner.Write(value);
        }
    }

    public override void Write(string? value) => Inner.Write(Escape(value));

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value) => Inner.WriteLine(Escape(value));

    public override Task WriteAsync(string? value) => Inner.WriteAsync(Escape(value));

    public override Task WriteLineAsync(string? value) => Inner.WriteLineAsync(Escape(value));

    public override Task WriteAsync(char value) => Inner.WriteAsync(Escape(value.ToString()));

    public override Task WriteLineAsync() => Inner.WriteLineAsync();

    public override void Flush() => Inner.Flush();

    public override Task FlushAsync() => Inner.FlushAsync();

    private static bool IsUnsafe(char c) =>
        (char.IsControl(c) && c is not ('\n' or '\r' or '\t')) || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069';
}

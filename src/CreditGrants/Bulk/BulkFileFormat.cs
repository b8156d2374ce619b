using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace CreditGrants.Bulk;

/// <summary>
/// How a bulk file is written, as its first lines tell: the field separator (from the header row, or Excel's
/// <c>sep=</c> first line) and where the header row starts. Byte positions are in the file's UTF-8 bytes.
/// </summary>
/// <param name="Separator"><c>,</c>, <c>;</c> or a tab (or what a <c>sep=</c> line names).</param>
/// <param name="HeaderStart">The byte offset of the header row: after a UTF-8 byte order mark and a <c>sep=</c> line.</param>
/// <param name="HeaderLine">The header row's line number: 1, or 2 after a <c>sep=</c> line.</param>
public sealed record BulkFileFormat(char Separator, long HeaderStart, long HeaderLine)
{
    /// <summary>Separators a header row is tried with, in order of preference when none is told apart.</summary>
    public static readonly char[] Separators = [',', ';', '\t'];

    /// <summary>A plain comma file with no byte order mark.</summary>
    public static BulkFileFormat Comma { get; } = new(',', 0, 1);

    /// <summary>The separator as people name it in messages.</summary>
    public string SeparatorName => Separator switch
    {
        ',' => "comma",
        ';' => "semicolon",
        '\t' => "tab",
        _ => $"'{Separator}'",
    };

    /// <summary>
    /// Finds the format from the start of a file (UTF-8, after any transcoding): a UTF-8 byte order mark is skipped, a first
    /// line <c>sep=X</c> sets the separator, and otherwise the header row's separator is the candidate that splits it into
    /// the most known column names.
    /// </summary>
    /// <param name="head">The file's first bytes: at least its first two lines, or all of it.</param>
    /// <exception cref="BulkFileException">The file starts with a UTF-16 or UTF-32 byte order mark (transcode it first).</exception>
    public static BulkFileFormat Detect(ReadOnlySpan<byte> head)
    {
        long start = 0;
        if (head.StartsWith(BulkFileEncoding.Utf8Bom))
        {
            start = BulkFileEncoding.Utf8Bom.Length;
        }
        else if (BulkFileEncoding.Of(head) is { } other)
        {
            throw new BulkFileException($"The file is {other.EncodingName}: convert it to UTF-8 before it is planned.");
        }

        var firstLine = Line(head[(int)start..]);
        var text = Encoding.UTF8.GetString(firstLine).Trim();
        if (text.Length == 5 && text.StartsWith("sep=", StringComparison.OrdinalIgnoreCase))
        {
            var separator = text[4];
            var next = start + LineLengthWithBreak(head[(int)start..]);
            return new BulkFileFormat(separator, next, 2);
        }

        var best = ',';
        var bestKnown = 0;
        foreach (var candidate in Separators)
        {
            var known = text.Split(candidate).Count(name => BulkColumns.IsKnown(name.Trim().Trim('"').Trim()));
            if (known > bestKnown)
            {
                (best, bestKnown) = (candidate, known);
            }
        }

        return new BulkFileFormat(best, start, 1);
    }

    private static ReadOnlySpan<byte> Line(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOfAny((byte)'\r', (byte)'\n');
        return end < 0 ? bytes : bytes[..end];
    }

    private static int LineLengthWithBreak(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOfAny((byte)'\r', (byte)'\n');
        if (end < 0)
        {
            return bytes.Length;
        }

        return bytes[end] == '\r' && end + 1 < bytes.Length && bytes[end + 1] == '\n' ? end + 2 : end + 1;
    }
}

/// <summary>
/// The encodings a bulk file may come in: UTF-8 (with or without a byte order mark), and UTF-16 with a byte order mark,
/// which is transcoded to UTF-8 before anything else reads it. Any other bytes are refused at the line they are on, so a
/// file saved as Windows-1252 never sends U+FFFD to Polar.
/// </summary>
public static class BulkFileEncoding
{
    /// <summary>The UTF-8 byte order mark.</summary>
    public static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>How to save a file so that it is accepted, for messages.</summary>
    public const string SaveAsUtf8 =
        "save it as UTF-8: in Excel choose 'CSV UTF-8 (Comma delimited) (*.csv)', in LibreOffice or an editor pick the UTF-8 character set";

    /// <summary>The encoding a byte order mark at the start of <paramref name="head"/> names, other than UTF-8; null for none or UTF-8.</summary>
    public static Encoding? Of(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0x00, 0x00]) || head.StartsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFE, 0xFF]))
        {
            return head[0] == 0xFF ? new UTF32Encoding(bigEndian: false, byteOrderMark: true, throwOnInvalidCharacters: true)
                : new UTF32Encoding(bigEndian: true, byteOrderMark: true, throwOnInvalidCharacters: true);
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return new UnicodeEncoding(bigEndian: false, byteOrderMark: true, throwOnInvalidBytes: true);
        }

        return head.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) ? new UnicodeEncoding(bigEndian: true, byteOrderMark: true, throwOnInvalidBytes: true) : null;
    }

    /// <summary>
    /// Copies <paramref name="input"/>, which starts with a UTF-16 (or UTF-32) byte order mark, to <paramref name="output"/> as
    /// UTF-8 without a byte order mark. Line breaks and so line numbers are kept.
    /// </summary>
    /// <exception cref="BulkFileException">The text is not valid in the encoding its byte order mark names; the message gives the line.</exception>
    public static async Task TranscodeToUtf8Async(Stream input, Encoding encoding, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(encoding);
        var preamble = new byte[encoding.GetPreamble().Length];
        await input.ReadExactlyAsync(preamble, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(input, encoding, detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024, leaveOpen: true);
        var chars = ArrayPool<char>.Shared.Rent(32 * 1024);
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(chars.Length));
        long line = 1;
        try
        {
            int read;
            while ((read = await ReadAsync(reader, chars, line, encoding, cancellationToken).ConfigureAwait(false)) > 0)
            {
                var span = chars.AsSpan(0, read);
                if (span.IndexOf('\0') is var nul and >= 0)
                {
                    throw new BulkFileException($"Line {line + span[..nul].Count('\n')} holds a NUL character; {SaveAsUtf8}.");
                }

                line += span.Count('\n');
                var count = Encoding.UTF8.GetBytes(span, bytes);
                await output.WriteAsync(bytes.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static async Task<int> ReadAsync(StreamReader reader, char[] chars, long line, Encoding encoding, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadAsync(chars.AsMemory(), cancellationToken).ConfigureAwait(false);
        }
        catch (DecoderFallbackException ex)
        {
            throw new BulkFileException($"The file says it is {encoding.EncodingName} (its byte order mark), but text on or after line {line} is not; {SaveAsUtf8}.", ex);
        }
    }
}

/// <summary>
/// Checks that bytes fed to it in order are valid UTF-8 without NUL characters, counting lines, so that a file in another
/// encoding is refused naming its first bad line before anything is granted.
/// </summary>
public sealed class Utf8Check
{
    private readonly byte[] _carry = new byte[4];
    private readonly char[] _scratch = new char[8 * 1024];
    private int _carried;
    private long _line = 1;

    /// <summary>Checks the next bytes of the file.</summary>
    /// <exception cref="BulkFileException">They are not UTF-8, or hold a NUL: the message names the line and how to save the file.</exception>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (_carried > 0)
        {
            // Complete the sequence cut by the last block's end, one byte at a time (at most 3).
            while (_carried > 0 && !bytes.IsEmpty)
            {
                _carry[_carried++] = bytes[0];
                bytes = bytes[1..];
                var status = Utf8.ToUtf16(_carry.AsSpan(0, _carried), _scratch, out _, out _, replaceInvalidSequences: false, isFinalBlock: false);
                if (status == System.Buffers.OperationStatus.Done)
                {
                    _carried = 0;
                }
                else if (status == System.Buffers.OperationStatus.InvalidData || _carried == 4)
                {
                    Fail(_carry[0]);
                }
            }
        }

        while (!bytes.IsEmpty)
        {
            var block = bytes[..Math.Min(bytes.Length, _scratch.Length)];
            var status = Utf8.ToUtf16(block, _scratch, out var read, out _, replaceInvalidSequences: false, isFinalBlock: false);
            var done = block[..read];
            if (done.IndexOf((byte)0) is var nul and >= 0)
            {
                _line += done[..nul].Count((byte)'\n');
                throw new BulkFileException($"Line {_line} holds a NUL byte: the file may be UTF-16 without a byte order mark, or not text; {BulkFileEncoding.SaveAsUtf8}.");
            }

            _line += done.Count((byte)'\n');
            var wholeRest = block.Length == bytes.Length;
            bytes = bytes[read..];
            switch (status)
            {
                case System.Buffers.OperationStatus.InvalidData:
                    Fail(bytes[0]);
                    break;
                case System.Buffers.OperationStatus.NeedMoreData when wholeRest:
                    // A sequence cut by the end of this block of the file: kept until the next bytes come.
                    bytes.CopyTo(_carry);
                    _carried = bytes.Length;
                    return;
            }
        }
    }

    /// <summary>Ends the check: a sequence cut off by the end of the file is invalid too.</summary>
    public void Complete()
    {
        if (_carried > 0)
        {
            Fail(_carry[0]);
        }
    }

    private void Fail(byte value) => throw new BulkFileException(
        $"Line {_line} is not valid UTF-8 (byte 0x{value:X2}): the file was probably saved as Windows-1252 (ANSI) or another legacy encoding, " +
        $"which would turn letters such as é or ü into wrong ones; {BulkFileEncoding.SaveAsUtf8}. Nothing was granted.");
}

namespace CreditGrants.Cli;

/// <summary>The CSV file a bulk run reads and the results file it writes, both checked before any grant is made.</summary>
internal sealed record BulkRunFiles(string Input, string Results)
{
    private const string ResultsSuffix = ".results.csv";

    private static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>The results file a run writes by default: <c>&lt;name&gt;.results.csv</c> in the input's folder.</summary>
    public static string DefaultResults(string input) =>
        Path.Combine(Path.GetDirectoryName(input) ?? "", Path.GetFileNameWithoutExtension(input) + ResultsSuffix);

    /// <summary>Checks that the input can be read and the results written (without changing an existing results file).</summary>
    /// <exception cref="CliInputException">A path is missing, a folder, unreadable, unwritable, or the results would overwrite the input.</exception>
    public static BulkRunFiles Resolve(string input, string? results)
    {
        if (string.IsNullOrWhiteSpace(input))
        {
            throw new CliInputException("Give the CSV file to run, e.g. 'credits bulk run samples/welcome-credits.csv'.");
        }

        CheckReadable(input);
        var chosen = results is not null;
        results ??= DefaultResults(input);
        if (string.Equals(FinalPath(input), FinalPath(results), PathComparison))
        {
            throw new CliInputException(
                $"--out '{results}' is the input file itself; the results go to another file (by default '{DefaultResults(input)}').");
        }

        CheckWritable(results, chosen);
        return new BulkRunFiles(input, results);
    }

    private static void CheckReadable(string input)
    {
        if (Directory.Exists(input))
        {
            throw new CliInputException($"'{input}' is a folder, not a CSV file.");
        }

        if (!File.Exists(input))
        {
            throw new CliInputException($"The file '{input}' does not exist (looked for {Path.GetFullPath(input)}).");
        }

        try
        {
            using var _ = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"The file '{input}' cannot be read: {ex.Message}", ex);
        }
    }

    private static void CheckWritable(string results, bool chosen)
    {
        var option = chosen ? "--out " : "the results file ";
        if (Directory.Exists(results))
        {
            throw new CliInputException($"{option}'{results}' is a folder; give a file path such as '{Path.Combine(results, "results.csv")}'.");
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(results))!;
        if (!Directory.Exists(folder))
        {
            throw new CliInputException($"{option}'{results}': the folder '{folder}' does not exist.");
        }

        var existed = File.Exists(results);
        try
        {
            // Opened without truncating, so a run refused later (an unusable header) leaves an earlier results file as it was.
            using (new FileStream(results, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite))
            {
            }

            if (!existed)
            {
                File.Delete(results);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"{option}'{results}' cannot be written: {ex.Message}{(chosen ? "" : " Choose another place with --out.")}", ex);
        }
    }

    /// <summary>The full path with symbolic links followed, so a link to the input is recognised as the input.</summary>
    private static string FinalPath(string path)
    {
        var full = Path.GetFullPath(path);
        try
        {
            return File.Exists(full) && new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target ? target.FullName : full;
        }
        catch (IOException)
        {
            return full;
        }
    }
}

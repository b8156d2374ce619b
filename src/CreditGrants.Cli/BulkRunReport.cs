using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Bulk;
using CsvHelper;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace CreditGrants.Cli;

/// <summary>How a finished bulk run is shown: a summary table and the first rejections, or one JSON object.</summary>
internal static class BulkRunReport
{
    public const int RejectionsShown = 5;

    /// <summary>A Spectre console over one of the CLI's writers: colours and live rendering only on a terminal.</summary>
    public static IAnsiConsole Console(TextWriter writer, bool terminal)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(TerminalSafeWriter.Unwrap(writer)),
            Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!terminal)
        {
            // A pipe or a file has no width: never wrap a long results path.
            console.Profile.Width = 1000;
        }

        return console;
    }

    /// <summary>Writes a renderable; off a terminal without the padding Spectre leaves at line ends, so logs and diffs stay clean.</summary>
    public static void Write(TextWriter writer, IRenderable renderable, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (terminal)
        {
            Console(writer, terminal: true).Write(renderable);
            return;
        }

        using var buffer = new StringWriter(CultureInfo.InvariantCulture);
        Console(buffer, terminal: false).Write(renderable);
        foreach (var line in buffer.ToString().Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0))
        {
            writer.WriteLine(line);
        }
    }

    public static Table SummaryTable(BulkSummary summary, BulkRun run, string results, bool terminal)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(run);
        var table = new Table().Border(terminal ? TableBorder.Rounded : TableBorder.None).HideHeaders()
            .AddColumn(new TableColumn("")).AddColumn(new TableColumn(""));
        void Row(string name, string value) => table.AddRow(new Text(name), new Text(value));
        Row("Batch", run.DryRun ? $"{run.Batch} (dry run: nothing was granted)" : run.Batch);
        Row("Rows", Count(summary.Rows));
        if (run.DryRun)
        {
            Row("Would grant", Count(summary.WouldGrant));
        }
        else
        {
            Row("Granted", Count(summary.Granted));
            Row("Duplicates", $"{Count(summary.Duplicates)} (granted before in this batch, or by their grant_id)");
        }

        if (summary.GrantedOrDuplicate > 0)
        {
            Row("Granted or duplicate", Count(summary.GrantedOrDuplicate));
        }

        if (summary.AwaitingCustomer > 0)
        {
            Row("No customer yet", $"{Count(summary.AwaitingCustomer)} (granted to external ids no Polar customer has: they count only if the customer " +
                "is created within 180 minutes; see the notes, or use --require-existing-customers)");
        }

        if (summary.Unchecked > 0)
        {
            Row("Unchecked", $"{Count(summary.Unchecked)} (sent by external id to customers the customer directory does not know, without a lookup: " +
                "`credits customers sync`, then this file again, tells which have no Polar customer; see the notes)");
        }

        Row("Rejected", Count(summary.Rejected));
        Row("Failed", Count(summary.Failed));
        Row(run.DryRun ? "Units it would grant" : "Units granted",
            (run.DryRun ? summary.UnitsWouldGrant : summary.UnitsGranted).ToString("#,0.######", CultureInfo.InvariantCulture));
        Row("Polar ingest requests", Count(summary.IngestRequests));
        Row("Results", results);
        return table;
    }

    /// <summary>The reasons of the first rejected rows, read back from the results file.</summary>
    public static async Task<IReadOnlyList<string>> FirstRejectionsAsync(string results, int count, CancellationToken cancellationToken)
    {
        var reasons = new List<string>(count);
        var file = File.OpenRead(results);
        var reader = CsvReader.Create(file, CsvReaderOptions.Default with { HasHeader = true }, leaveOpen: false);
        await using (reader.ConfigureAwait(false))
        {
            await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
            var status = Array.IndexOf(BulkResultsWriter.Columns, "status");
            var reason = Array.IndexOf(BulkResultsWriter.Columns, "reason");
            while (reasons.Count < count && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.GetString(status) == BulkResultsWriter.StatusText(RowStatus.Rejected))
                {
                    reasons.Add(reader.GetString(reason));
                }
            }
        }

        return reasons;
    }

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

/// <summary>The <c>--json</c> answer of <c>credits bulk run</c>.</summary>
internal sealed record BulkRunJson(string Batch, bool DryRun, long Rows, long Granted, long Duplicates, long GrantedOrDuplicate, long WouldGrant,
    long AwaitingCustomer, long Rejected, long Failed, decimal UnitsGranted, long IngestRequests, string Results)
{
    /// <summary>In a dry run, the units of the rows ready to grant; 0 otherwise.</summary>
    public decimal UnitsWouldGrant { get; init; }

    /// <summary>Rows sent (or ready to send) to customers nobody checked (counted in their status as well).</summary>
    public long Unchecked { get; init; }

    public static BulkRunJson From(BulkSummary summary, BulkRun run, string results)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(run);
        return new(run.Batch, run.DryRun, summary.Rows, summary.Granted, summary.Duplicates, summary.GrantedOrDuplicate, summary.WouldGrant,
            summary.AwaitingCustomer, summary.Rejected, summary.Failed, summary.UnitsGranted, summary.IngestRequests, results)
        {
            UnitsWouldGrant = summary.UnitsWouldGrant,
            Unchecked = summary.Unchecked,
        };
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(BulkRunJson))]
internal sealed partial class BulkRunJsonContext : JsonSerializerContext;

using System.CommandLine;
using CreditGrants.Bulk;
using CreditGrants.Polar;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    /// <summary>Whether a writer is an interactive terminal, which decides the progress bar and colours; tests replace it.</summary>
    internal Func<TextWriter, bool> IsTerminal { get; init; } = IsInteractiveTerminal;

    private Command BulkRunCommand()
    {
        var file = new Argument<string>("file") { HelpName = "file.csv", Description = "The CSV file: a header row, then one grant per row (see samples/README.md)" };
        var meter = new Option<string?>("--meter") { HelpName = "name", Description = "The meter of rows that name none (default: Grants:DefaultMeter, 'API Calls')" };
        var reason = new Option<string?>("--reason") { HelpName = "text", Description = "The reason of rows that give none" };
        var results = new Option<string?>("--out") { HelpName = "results.csv", Description = "Where to write the results CSV (default: <name>.results.csv next to the file)" };
        var batch = new Option<string?>("--batch")
        {
            HelpName = "name",
            Description = "The batch the rows' grant ids belong to (default: the file's name without extension); the same rows in another batch grant again",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Check every row as a real run would and write the results file; grant nothing" };
        var requireExisting = new Option<bool>("--require-existing-customers")
        {
            Description = "Reject rows to external ids that no Polar customer has (and no email to create one) instead of granting them with a note (Polar counts those only if the customer is created within 180 minutes)",
        };
        var storage = new Option<string?>("--storage")
        {
            HelpName = "connection string | account name",
            Description = "Take part in the Functions app's Polar request budget (its PolarBudget table on this storage), so this run does not eat the app's share",
        };
        var command = new Command("run", "Grant the rows of a CSV file from this machine and write a results CSV. " +
            "Exit code: 0 all granted or duplicate, 5 some rows rejected or failed, 2 file unusable, 3 refused by Polar, 4 Polar unavailable, 130 Ctrl+C")
        {
            file, meter, reason, results, batch, dryRun, requireExisting, storage,
        };
        AddPolarOptions(command);
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            // Checked before the Polar connection opens, so a mistyped path fails at once and starts no emulator.
            var files = BulkRunFiles.Resolve(parse.GetValue(file)!, parse.GetValue(results));
            var batchName = parse.GetValue(batch) ?? Path.GetFileNameWithoutExtension(files.Input);
            if (BulkGrantIds.CheckBatch(batchName) is { } problem)
            {
                throw new CliInputException($"--batch '{batchName}': {problem}.");
            }

            var defaults = new BulkDefaults(parse.GetValue(meter), parse.GetValue(reason));
            var budget = await SharedBudgetAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            var run = new BulkRun(defaults, batchName.Trim(), parse.GetValue(dryRun), parse.GetValue(requireExisting));
            return await RunAsync(parse, async services =>
            {
                // A meter given for the whole file is checked once, before the first row: a typo stops the run rather than
                // rejecting every row that relies on it.
                if (!string.IsNullOrWhiteSpace(defaults.Meter))
                {
                    await services.GetRequiredService<IPolarGateway>().GetGrantTargetAsync(defaults.Meter, ct).ConfigureAwait(false);
                }

                return await RunBulkFileAsync(services.GetRequiredService<BulkRunner>(), files, run, parse, ct).ConfigureAwait(false);
            }, ct, budget).ConfigureAwait(false);
        }, ct));
        return command;
    }

    private async Task<int> RunBulkFileAsync(BulkRunner runner, BulkRunFiles files, BulkRun run, ParseResult parse, CancellationToken cancellationToken)
    {
        var json = parse.GetValue(_json);
        BulkProgress? last = null;
        BulkSummary summary;
        try
        {
            // Log lines (--verbose) would tear a live bar apart, so it is drawn only when nothing else writes to stderr.
            summary = !json && !parse.GetValue(_verbose) && IsTerminal(_error)
                ? await RunWithProgressBarAsync(runner, files, run, p => last = p, cancellationToken).ConfigureAwait(false)
                : await RunWithProgressLinesAsync(runner, files, run, p => last = p, cancellationToken).ConfigureAwait(false);
        }
        catch (BulkFileException ex)
        {
            throw new CliInputException($"'{files.Input}' cannot be used: {char.ToLowerInvariant(ex.Message[0])}{ex.Message[1..]}", ex);
        }
        catch (Exception) when (last is not null)
        {
            await _error.WriteLineAsync(
                $"credits: stopped after {BulkRunReport.Count(last.RowsDone - last.Summary.Failed)} of {BulkRunReport.Count(last.RowsTotal)} rows; "
                + $"the other {BulkRunReport.Count(last.Summary.Failed)} are marked failed. Every row's outcome is in '{files.Results}'. "
                + "Running the same file again is safe: rows already granted come back as duplicates.").ConfigureAwait(false);
            throw;
        }

        var code = summary.Rejected + summary.Failed > 0 ? ExitCodes.RowsRejected : ExitCodes.Ok;
        if (json)
        {
            await WriteJsonAsync(BulkRunJson.From(summary, run, Path.GetFullPath(files.Results)), BulkRunJsonContext.Default.BulkRunJson).ConfigureAwait(false);
            return code;
        }

        var terminal = IsTerminal(_out);
        BulkRunReport.Write(_out, BulkRunReport.SummaryTable(summary, run, files.Results, terminal), terminal);
        if (summary.Rejected > 0)
        {
            var rejections = await BulkRunReport.FirstRejectionsAsync(files.Results, BulkRunReport.RejectionsShown, cancellationToken).ConfigureAwait(false);
            var heading = summary.Rejected > rejections.Count
                ? $"The first {rejections.Count} of {BulkRunReport.Count(summary.Rejected)} rejected rows (all are in the results file):"
                : $"Rejected row{(summary.Rejected > 1 ? "s" : "")}:";
            await _out.WriteLineAsync().ConfigureAwait(false);
            BulkRunReport.Write(_out, new Rows([new Text(heading, terminal ? new Style(Color.Yellow) : Style.Plain),
                .. rejections.Select(r => new Padder(new Text(r), new Padding(2, 0, 0, 0)))]), terminal);
        }

        return code;
    }

    private async Task<BulkSummary> RunWithProgressLinesAsync(BulkRunner runner, BulkRunFiles files, BulkRun run, Action<BulkProgress> record,
        CancellationToken cancellationToken)
    {
        var lines = new BulkProgressLines(_error, TimeProvider.System, BulkProgressLines.DefaultInterval);
        // Rows finish only as Polar answers; the timer keeps a line coming while the run waits on Polar's request budget or a retry.
        using var heartbeat = TimeProvider.System.CreateTimer(_ => lines.Tick(), null, BulkProgressLines.DefaultInterval, BulkProgressLines.DefaultInterval);
        return await runner.RunFileAsync(files.Input, files.Results, run, new SynchronousProgress<BulkProgress>(p =>
        {
            record(p);
            lines.Write(p);
        }), cancellationToken).ConfigureAwait(false);
    }

    private async Task<BulkSummary> RunWithProgressBarAsync(BulkRunner runner, BulkRunFiles files, BulkRun run, Action<BulkProgress> record,
        CancellationToken cancellationToken)
    {
        var name = Markup.Escape(Path.GetFileName(files.Input));
        var progress = new Progress(BulkRunReport.Console(_error, terminal: true))
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn());
        return await progress.StartAsync(async context =>
        {
            var task = context.AddTask($"{name}: reading", autoStart: true, maxValue: 1);
            task.IsIndeterminate = true;
            BulkSummary summary;
            try
            {
                summary = await runner.RunFileAsync(files.Input, files.Results, run, new SynchronousProgress<BulkProgress>(p =>
                {
                    record(p);
                    task.IsIndeterminate = false;
                    task.MaxValue = Math.Max(p.RowsTotal, 1);
                    task.Value = p.RowsTotal == 0 ? 1 : p.RowsDone;
                    task.Description = $"{name}: {BulkRunReport.Count(p.RowsDone)} / {BulkRunReport.Count(p.RowsTotal)} rows, {BulkProgressLines.Counts(p.Summary)}";
                }), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // A run that stops (Ctrl+C, Polar down) takes its bar away, so the message that follows is not mixed with a stale line.
                progress.AutoClear = true;
                throw;
            }

            task.StopTask();
            return summary;
        }).ConfigureAwait(false);
    }

    /// <summary>True for the process's own stdout or stderr when it is not redirected to a file or a pipe.</summary>
    private static bool IsInteractiveTerminal(TextWriter writer) =>
        TerminalSafeWriter.Unwrap(writer) is var inner && ((ReferenceEquals(inner, Console.Out) && !Console.IsOutputRedirected)
        || (ReferenceEquals(inner, Console.Error) && !Console.IsErrorRedirected));
}

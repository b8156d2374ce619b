using System.CommandLine;
using Azure;
using CreditGrants.Bulk;
using CreditGrants.Lifecycle;
using Microsoft.Extensions.DependencyInjection;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    private Command BulkRevokeCommand()
    {
        var job = new Argument<string?>("job") { Arity = ArgumentArity.ZeroOrOne, Description = "The app's bulk job id that submit printed (with --storage)" };
        var results = new Option<string?>("--results")
        {
            HelpName = "results.csv",
            Description = "Revoke a local 'credits bulk run' instead: the results file it wrote",
        };
        var storage = StorageOption();
        var reason = new Option<string>("--reason") { HelpName = "text", Description = "Why, in a few words (kept on every revocation's event)", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Read every customer's ledger and write what would be taken back per row; send nothing" };
        var output = new Option<string?>("--out")
        {
            HelpName = "revocation.csv",
            Description = "Where to write the revocation's results CSV (default: <job>.revocation.csv here, or next to --results; .revocation-dry-run.csv for a dry run)",
        };
        var command = new Command("revoke", "Undo a bulk job or a local bulk run: take back what each granted row has unspent (one ledger read per customer, " +
            "batched revocations) and write a results CSV. Running it again changes nothing. Exit code: 0 done, 5 some rows failed, 2 no such job or file")
        {
            job, results, storage, reason, dryRun, output,
        };
        AddPolarOptions(command);
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var (jobId, file) = (parse.GetValue(job), parse.GetValue(results));
            if ((jobId is null) == (file is null))
            {
                throw new CliInputException("Give either a bulk job id (with --storage) or --results <results.csv> of a local 'credits bulk run', not both.");
            }

            if (parse.GetValue(reason) is not { Length: > 0 and <= 500 } why)
            {
                throw new CliInputException("--reason: give 1 to 500 characters saying why the grants are taken back.");
            }

            var dry = parse.GetValue(dryRun);
            var suffix = dry ? ".revocation-dry-run.csv" : ".revocation.csv";
            IReadOnlyList<BulkGrantedRow> rows;
            string destination;
            Action<IServiceCollection>? budget = null;
            if (file is not null)
            {
                if (!File.Exists(file))
                {
                    throw new CliInputException($"--results '{file}': no such file.");
                }

                rows = await ReadRevocationRowsAsync(File.OpenRead(file), file, ct).ConfigureAwait(false);
                var name = Path.GetFileName(file);
                var stem = name.EndsWith(".results.csv", StringComparison.OrdinalIgnoreCase) ? name[..^".results.csv".Length] : Path.GetFileNameWithoutExtension(name);
                destination = parse.GetValue(output) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, stem + suffix);
            }
            else
            {
                var jobs = await OpenBulkJobsAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
                var status = await StatusAsync(jobs, jobId!, ct).ConfigureAwait(false);
                if (status.Results is null)
                {
                    throw new CliInputException($"Bulk job {jobId} is {status.Status}: it can be revoked once it has ended (follow it with: credits bulk status {jobId} --watch).");
                }

                try
                {
                    rows = await ReadRevocationRowsAsync(await jobs.OpenResultsAsync(status.Results.Blob, ct).ConfigureAwait(false), jobId!, ct).ConfigureAwait(false);
                }
                catch (RequestFailedException ex)
                {
                    throw StorageFailure(ex);
                }

                destination = parse.GetValue(output) ?? Path.GetFullPath(jobId + suffix);
                budget = await SharedBudgetAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            }

            var source = "bulk-revoke:" + (jobId ?? Path.GetFileName(file!));
            return await RunAsync(parse, services => RevokeRowsAsync(services, rows, new BulkRevokeOptions(why, dry, source), jobId ?? file!, destination, parse, ct),
                ct, budget).ConfigureAwait(false);
        }, ct));
        return command;
    }

    /// <summary>Revokes <paramref name="rows"/>, writes the revocation results file and prints the summary; exit 5 when rows failed.</summary>
    private async Task<int> RevokeRowsAsync(IServiceProvider services, IReadOnlyList<BulkGrantedRow> rows, BulkRevokeOptions options, string revoking,
        string destination, ParseResult parse, CancellationToken ct)
    {
        var (outcomes, summary) = await services.GetRequiredService<BulkRevocation>().RevokeAsync(rows, options, ct).ConfigureAwait(false);
        var target = new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
        await using (target.ConfigureAwait(false))
        {
            await BulkRevocationFile.WriteAsync(target, outcomes, ct).ConfigureAwait(false);
        }

        var code = summary.Failed > 0 ? ExitCodes.RowsRejected : ExitCodes.Ok;
        if (parse.GetValue(_json))
        {
            await WriteJsonAsync(BulkRevocationJson.From(revoking, summary, destination, null), BulkRevocationJsonContext.Default.BulkRevocationJson)
                .ConfigureAwait(false);
            return code;
        }

        var units = options.DryRun ? $"would take back {Number(summary.UnitsWouldRevoke)} units from {BulkRunReport.Count(summary.WouldRevoke)} rows"
            : $"took back {Number(summary.UnitsRevoked)} units from {BulkRunReport.Count(summary.Revoked)} rows";
        await _out.WriteLineAsync($"{(options.DryRun ? "Dry run: nothing sent. The revocation" : "Revoked:")} {units} of {BulkRunReport.Count(summary.Rows)} " +
            $"({BulkRunReport.Count(summary.AlreadyRevoked)} already revoked, {BulkRunReport.Count(summary.NothingUnspent)} with nothing unspent, " +
            $"{BulkRunReport.Count(summary.NotGranted)} never granted, {BulkRunReport.Count(summary.Failed)} failed); {summary.Customers} customer ledgers read " +
            $"in {summary.LedgerRequests} Polar requests. Every row is in '{destination}'.").ConfigureAwait(false);
        if (summary.Failed > 0)
        {
            await _out.WriteLineAsync("Rows that failed can be revoked by running the same command again; rows revoked already are left as they are.")
                .ConfigureAwait(false);
        }

        return code;
    }

    private Command CampaignRevokeCommand()
    {
        var file = new Argument<string>("campaign.json") { Description = "The campaign's document" };
        var occurrence = new Option<string?>("--occurrence")
        {
            HelpName = "time",
            Description = "The occurrence to take back, as its time (2026-12-07T08:00:00Z); not for a campaign that grants once per customer",
        };
        var reason = new Option<string>("--reason") { HelpName = "text", Description = "Why, in a few words (kept on every revocation's event)", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Write what would be taken back per grant; send nothing" };
        var output = new Option<string?>("--out") { HelpName = "revocation.csv", Description = "Where to write the results CSV (default: <campaign>.revocation.csv here)" };
        var command = new Command("revoke", "Take back what each grant of a campaign occurrence (or of a once-per-customer campaign) has unspent, " +
            "found in Polar by the campaign's source; writes a results CSV. Running it again changes nothing")
        {
            file, occurrence, reason, dryRun, output,
        };
        AddPolarOptions(command);
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var campaign = await ReadCampaignAsync(parse.GetValue(file)!, ct).ConfigureAwait(false);
            if (campaign is null)
            {
                return ExitCodes.InvalidInput;
            }

            if (parse.GetValue(reason) is not { Length: > 0 and <= 500 } why)
            {
                throw new CliInputException("--reason: give 1 to 500 characters saying why the grants are taken back.");
            }

            DateTimeOffset? at = null;
            if (parse.GetValue(occurrence) is { } text)
            {
                at = CampaignRevocation.TryParseOccurrence(text, out var parsed)
                    ? parsed : throw new CliInputException($"--occurrence '{text}': give {CampaignRevocation.OccurrenceForms}.");
            }

            var dry = parse.GetValue(dryRun);
            var name = CampaignRevocation.Name(campaign.Id, at);
            var destination = parse.GetValue(output) ?? Path.GetFullPath(name + (dry ? ".revocation-dry-run.csv" : ".revocation.csv"));
            return await RunAsync(parse, async services =>
            {
                IReadOnlyList<BulkGrantedRow> rows;
                try
                {
                    rows = await services.GetRequiredService<CampaignGrants>().FindAsync(campaign, at, ct).ConfigureAwait(false);
                }
                catch (ArgumentException ex)
                {
                    throw new CliInputException($"--occurrence: {ex.Message.Split(" (Parameter", 2)[0]}.", ex);
                }

                return await RevokeRowsAsync(services, rows, new BulkRevokeOptions(why, dry, CampaignRevocation.Source(name)), name, destination, parse, ct).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
        }, ct));
        return command;
    }

    private static async Task<IReadOnlyList<BulkGrantedRow>> ReadRevocationRowsAsync(Stream stream, string name, CancellationToken cancellationToken)
    {
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                return await BulkRevocationFile.ReadAsync(stream, hasHeader: true, cancellationToken).ConfigureAwait(false);
            }
            catch (BulkFileException ex)
            {
                throw new CliInputException($"'{name}' is not a bulk results file: {ex.Message}.", ex);
            }
        }
    }
}

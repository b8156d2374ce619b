using System.CommandLine;
using System.Globalization;
using Azure;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Storage;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    /// <summary>The environment variable <c>--storage</c> defaults to.</summary>
    public const string StorageVariable = "AZURE_STORAGE_CONNECTION_STRING";

    /// <summary>The clock <c>bulk status --watch</c> waits on between polls; tests replace it.</summary>
    internal TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How long <c>bulk status --watch</c> sees no progress before it says what may be wrong.</summary>
    internal static readonly TimeSpan WatchHintAfter = TimeSpan.FromMinutes(2);

    private string BulkQueueName =>
        new ConfigurationBuilder().AddInMemoryCollection(_configuration).Build().GetSection(BulkOptions.SectionName).Get<BulkOptions>()?.QueueName
        ?? new BulkOptions().QueueName;

    private Command BulkSubmitCommand()
    {
        var file = new Argument<string>("file") { Description = "The CSV file: a header row, then one grant per row (see samples/README.md)" };
        var storage = StorageOption();
        var meter = new Option<string?>("--meter") { Description = "The meter of rows that name none (default: Grants:DefaultMeter, 'API Calls')" };
        var reason = new Option<string?>("--reason") { Description = "The reason of rows that give none" };
        var batch = new Option<string?>("--batch") { HelpName = "name", Description = "The batch the rows' grant ids belong to (default: the file's name without extension)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Check every row as a real job would and write the results file; grant nothing" };
        var requireExisting = new Option<bool>("--require-existing-customers")
        {
            Description = "Reject rows to external ids that no Polar customer has (and no email to create one) instead of granting them with a note (Polar counts those only if the customer is created within 180 minutes)",
        };
        var command = new Command("submit", "Upload a CSV file to the Functions app's storage; the app grants its rows in the background")
        {
            file, storage, meter, reason, batch, dryRun, requireExisting,
        };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                throw new CliInputException($"'{path}': no such file.");
            }

            var jobs = await OpenBulkJobsAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            BulkSubmission submission;
            var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (input.ConfigureAwait(false))
            {
                try
                {
                    var submit = new BulkSubmitOptions(parse.GetValue(batch) ?? Path.GetFileNameWithoutExtension(path), parse.GetValue(dryRun),
                        parse.GetValue(requireExisting));
                    submission = await jobs.SubmitAsync(input, new BulkDefaults(parse.GetValue(meter), parse.GetValue(reason)), submit, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is BulkFileException or BulkFileTooLargeException)
                {
                    throw new CliInputException($"'{path}' cannot be used: {char.ToLowerInvariant(ex.Message[0])}{ex.Message[1..]}", ex);
                }
                catch (BulkDefaultsException ex)
                {
                    throw new CliInputException(string.Join(Environment.NewLine, ex.Errors.Select(e => $"--{e.Field}: {e}")), ex);
                }
                catch (RequestFailedException ex)
                {
                    throw StorageFailure(ex);
                }
            }

            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(submission, BulkJsonContext.Default.BulkSubmission).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync(submission.Created
                    ? $"Submitted bulk job {submission.JobId} ({submission.Status}). Follow it with: credits bulk status {submission.JobId} --watch"
                    : $"Bulk job {submission.JobId} exists already (same file, same defaults) and is {submission.Status}; nothing new was started.")
                    .ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private Command BulkStatusCommand()
    {
        var job = new Argument<string>("job") { Description = "The job id that submit printed" };
        var storage = StorageOption();
        var watch = new Option<bool>("--watch") { Description = "Poll until the job ends, printing its progress" };
        var interval = new Option<double>("--interval")
        {
            Description = "Seconds between polls with --watch",
            DefaultValueFactory = _ => 5,
        };
        var command = new Command("status", "Show where a bulk job stands: its totals, failed chunks and results file. " +
            "Exit code: 0 running or completed, 5 completed with rejected rows or failed chunks, 1 failed")
        {
            job, storage, watch, interval,
        };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var jobs = await OpenBulkJobsAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            var jobId = parse.GetValue(job)!;
            var seconds = parse.GetValue(interval);
            if (seconds is < 0 or > 3600 || double.IsNaN(seconds))
            {
                throw new CliInputException($"--interval {seconds.ToString(CultureInfo.InvariantCulture)}: give seconds from 0 to 3600.");
            }

            var json = parse.GetValue(_json);
            var status = await StatusAsync(jobs, jobId, ct).ConfigureAwait(false);
            var unchangedFor = TimeSpan.Zero;
            var hinted = false;
            while (parse.GetValue(watch) && !BulkJobState.HasEnded(status.Status))
            {
                if (!json)
                {
                    await _out.WriteLineAsync(Progress(status)).ConfigureAwait(false);
                }

                await Task.Delay(TimeSpan.FromSeconds(seconds), Clock, ct).ConfigureAwait(false);
                var previous = status;
                status = await StatusAsync(jobs, jobId, ct).ConfigureAwait(false);
                unchangedFor = Progress(status) == Progress(previous) ? unchangedFor + TimeSpan.FromSeconds(seconds) : TimeSpan.Zero;
                if (!hinted && unchangedFor >= WatchHintAfter)
                {
                    // Jobs are granted by the Functions app; a job that never moves usually means no app reads this storage's queue.
                    hinted = true;
                    await _error.WriteLineAsync(
                        $"credits: no progress for {unchangedFor.TotalMinutes:0.#} minutes: is the Functions app running on this storage account " +
                        $"(it reads the queue '{BulkQueueName}')? Locally: func start in src/CreditFunctions. Ctrl+C stops watching; the job goes on.")
                        .ConfigureAwait(false);
                }
            }

            if (json)
            {
                await WriteJsonAsync(status, BulkJsonContext.Default.BulkJobStatus).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync(Describe(status)).ConfigureAwait(false);
            }

            return status.Status switch
            {
                BulkJobState.Failed => ExitCodes.Failed,
                BulkJobState.CompletedWithErrors => ExitCodes.RowsRejected,
                _ => ExitCodes.Ok,
            };
        }, ct));
        return command;
    }

    private Command BulkRetryCommand()
    {
        var job = new Argument<string>("job") { Description = "The job id" };
        var storage = StorageOption();
        var command = new Command("retry", "Enqueue a bulk job's failed chunks (or its failed plan) again, once the cause is fixed; rows never grant twice")
        {
            job, storage,
        };
        command.SetAction((parse, ct) => RunGuardedAsync(parse, async () =>
        {
            var jobs = await OpenBulkJobsAsync(parse.GetValue(storage), ct).ConfigureAwait(false);
            var jobId = parse.GetValue(job)!;
            BulkRetry? retry;
            try
            {
                retry = await jobs.RetryAsync(jobId, ct).ConfigureAwait(false);
            }
            catch (RequestFailedException ex)
            {
                throw StorageFailure(ex);
            }

            if (retry is null)
            {
                throw NoSuchJob(jobId);
            }

            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(retry, BulkJsonContext.Default.BulkRetry).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync(retry switch
                {
                    { Plan: true } => $"Enqueued the plan of bulk job {jobId} again. Follow it with: credits bulk status {jobId} --watch",
                    { Nothing: true } => $"Nothing to retry: bulk job {jobId} has no failed chunks.",
                    _ => $"Enqueued {retry.Chunks.Count} failed chunk{(retry.Chunks.Count == 1 ? "" : "s")} of bulk job {jobId} again " +
                         $"({string.Join(", ", retry.Chunks)}). Follow it with: credits bulk status {jobId} --watch",
                }).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));
        return command;
    }

    private static Option<string?> StorageOption() => new("--storage")
    {
        Description = $"The Functions app's storage: a connection string (UseDevelopmentStorage=true for Azurite) or, to sign in with your " +
                      $"Azure identity, the account name (default: env {StorageVariable})",
    };

    /// <summary>
    /// The Functions app's storage account from <c>--storage</c> (or env <see cref="StorageVariable"/>): a connection string, or
    /// an account name to sign in with the caller's Azure identity. A missing or malformed value is invalid input (exit 2),
    /// and the message never repeats the value (a connection string holds the account key).
    /// </summary>
    private StorageAccount OpenStorageAccount(string? storage)
    {
        var value = string.IsNullOrWhiteSpace(storage) ? _environment(StorageVariable) : storage;
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new CliInputException(
                $"--storage is required (or env {StorageVariable}): the Functions app's storage connection string, or its account name to sign in " +
                "with your Azure identity; UseDevelopmentStorage=true for Azurite.");
        }

        try
        {
            return value.Contains('=', StringComparison.Ordinal) ? StorageAccount.FromConnectionString(value) : StorageAccount.FromAccountName(value);
        }
        catch (StorageConfigurationException ex)
        {
            throw new CliInputException($"--storage: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// <see cref="OpenStorageAccount"/>, then a check that its endpoints answer: a storage that is not running fails here at once
    /// (exit 4) rather than after the SDK's retries.
    /// </summary>
    private async Task<StorageAccount> OpenReachableStorageAsync(string? storage, CancellationToken cancellationToken)
    {
        var account = OpenStorageAccount(storage);
        await StorageProbe.EnsureReachableAsync(account, cancellationToken).ConfigureAwait(false);
        return account;
    }

    /// <summary>
    /// Bulk jobs on the given storage, named by the app's settings (<c>Bulk__QueueName</c>, …) as in the Functions app; a storage
    /// that does not answer fails here, at once.
    /// </summary>
    private async Task<BulkJobs> OpenBulkJobsAsync(string? storage, CancellationToken cancellationToken)
    {
        var account = await OpenReachableStorageAsync(storage, cancellationToken).ConfigureAwait(false);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(_configuration).Build();
        var bulk = configuration.GetSection(BulkOptions.SectionName).Get<BulkOptions>() ?? new BulkOptions();
        var grants = configuration.GetSection(GrantOptions.SectionName).Get<GrantOptions>() ?? new GrantOptions();
        return new BulkJobs(new BulkStore(() => account, Options.Create(bulk)), new GrantValidator(grants), Clock, NullLogger<BulkJobs>.Instance);
    }

    private static async Task<BulkJobStatus> StatusAsync(BulkJobs jobs, string jobId, CancellationToken cancellationToken)
    {
        try
        {
            return await jobs.GetStatusAsync(jobId, cancellationToken).ConfigureAwait(false) ?? throw NoSuchJob(jobId);
        }
        catch (RequestFailedException ex)
        {
            throw StorageFailure(ex);
        }
    }

    private static CliInputException NoSuchJob(string jobId) =>
        new($"No bulk job '{jobId}' in this storage account (job ids are the 32 hex digits that 'credits bulk submit' printed).");

    // Azure's own message lists the response's headers; the status and code say what went wrong.
    private static StorageRefusedException StorageFailure(RequestFailedException exception) => new(CliErrors.Storage(exception), exception);

    private static string Progress(BulkJobStatus status) =>
        $"{status.Status}: {N(status.Totals.Rows - status.Totals.Pending ?? 0)} of {(status.Totals.Rows is { } rows ? N(rows) : "?")} rows done " +
        $"({status.ChunksDone + status.ChunksFailed} of {(status.Chunks is { } chunks ? N(chunks) : "?")} chunks)";

    private static string Describe(BulkJobStatus status)
    {
        var totals = status.Totals;
        var lines = new List<string>
        {
            $"Job        {status.JobId}  {status.Status}",
            $"Rows       {(totals.Rows is { } rows ? N(rows) : "not counted yet")}{(status.Chunks is { } chunks ? $" in {N(chunks)} chunks" : "")}",
            $"Granted    {N(totals.Granted)} ({status.UnitsGranted.ToString("0.######", CultureInfo.InvariantCulture)} units)",
            $"Duplicates {N(totals.Duplicates)}",
        };
        if (totals.GrantedOrDuplicate is { } ambiguous)
        {
            lines.Add($"Granted or duplicate {N(ambiguous)}");
        }

        lines.Add($"Rejected   {N(totals.Rejected)}");
        lines.Add($"Failed     {N(totals.Failed)}");
        if (totals.Pending > 0)
        {
            lines.Add($"Pending    {N(totals.Pending)}");
        }

        lines.Add($"Submitted  {Time(status.SubmittedAt)}");
        if (status.StartedAt is { } started)
        {
            lines.Add($"Started    {Time(started)}");
        }

        if (status.FinishedAt is { } finished)
        {
            lines.Add($"Finished   {Time(finished)}");
        }

        if (status.Error is { } error)
        {
            lines.Add($"Error      {error}");
        }

        lines.AddRange(status.FailedChunks.Select(c =>
            $"Failed chunk {c.Index} (lines from {N(c.FirstLine)}, {N(c.Rows)} rows) after {c.Attempts} attempts: {c.Reason}"));
        if (status.FailedChunks.Count > 0 || status.Error is not null)
        {
            lines.Add($"Once the cause is fixed: credits bulk retry {status.JobId}");
        }

        if (status.Results is { } results)
        {
            lines.Add($"Results    {results.Container}/{results.Blob} ({results.Uri})");
        }

        return string.Join(Environment.NewLine, lines);
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset value) => value.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}

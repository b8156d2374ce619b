using System.Diagnostics;
using System.Globalization;
using CreditFunctions.Functions;
using CreditFunctions.Tests.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Storage.Bulk;
using CreditGrants.Storage.Campaigns;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Reliability;

/// <summary>What the campaign timer did until the campaign's occurrence was settled.</summary>
/// <param name="Ticks">Timer runs, over the instances in turn.</param>
/// <param name="Errors">Each tick that failed or left an error in the campaign's state (a Polar outage during the tick), in order.</param>
/// <param name="Elapsed">From the first tick to the one that settled the occurrence's job.</param>
/// <param name="State">The campaign's state once settled.</param>
internal sealed record CampaignTimerRun(int Ticks, IReadOnlyList<string> Errors, TimeSpan Elapsed, CampaignState State);

/// <summary>
/// The fault harness's campaign: one occurrence, due now, of an <c>allCustomers</c> campaign (metadata <c>cohort: harness</c>)
/// over the bulk job's customers and as many more, once per customer, with a budget of exactly its audience's units (so the
/// budget's reservation and the look-up of earlier grants run too). Ten customers of another cohort must get nothing. It runs
/// through the app's path: the <see cref="RunCampaigns"/> timer enqueues the occurrence as a bulk job for the queue workers,
/// and a later tick settles it.
/// </summary>
internal sealed class HarnessCampaign(string id, int bulkCustomers, int audienceSize)
{
    /// <summary>Credits per grant.</summary>
    public const decimal Units = 7;

    public string Id { get; } = id;

    /// <summary>External ids of the customers the campaign must grant: <c>user-1</c> … (the bulk job's) and <c>camp-1</c> ….</summary>
    public IReadOnlyList<string> Audience { get; } =
        [.. Enumerable.Range(1, bulkCustomers).Select(n => $"user-{n}"), .. Enumerable.Range(1, audienceSize - bulkCustomers).Select(n => $"camp-{n}")];

    /// <summary>Ten customers of another cohort, outside the audience: the campaign must grant them nothing.</summary>
    public IReadOnlyList<string> Outsiders { get; } = [.. Enumerable.Range(1, 10).Select(n => $"outsider-{n}")];

    /// <summary>The emulator's customers: the audience in the harness cohort, and the outsiders in another.</summary>
    public IReadOnlyList<EmulatorCustomerSeed> Seeds() => [.. Audience.Select(c => Seed(c, "harness")), .. Outsiders.Select(c => Seed(c, "other"))];

    private static EmulatorCustomerSeed Seed(string externalId, string cohort) =>
        new(externalId, $"{externalId}@bench.dev", null, new Dictionary<string, string> { ["cohort"] = cohort }, HasActiveSubscription: false);

    /// <summary>The campaign's document, its one occurrence a minute ago.</summary>
    public string Document()
    {
        var once = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var budget = (Audience.Count * Units).ToString(CultureInfo.InvariantCulture);
        var units = Units.ToString(CultureInfo.InvariantCulture);
        return $$$$"""
            {"id":"{{{{Id}}}}","units":{{{{units}}}},"reason":"Fault harness campaign","schedule":{"once":"{{{{once}}}}"},
             "audience":{"allCustomers":{"metadata":{"cohort":"harness"}}},"grantPolicy":"oncePerCustomer","budget":{"maxTotalUnits":{{{{budget}}}}}}
            """;
    }

    /// <summary>Stores the document in the app's campaigns container, as <c>credits campaigns upload</c> does.</summary>
    public async Task UploadAsync(BulkApp app)
    {
        var container = app.Services.GetRequiredService<CampaignScheduler>().Container;
        await container.CreateIfNotExistsAsync();
        await container.GetBlobClient(CampaignScheduler.BlobName(Id)).UploadAsync(BinaryData.FromString(Document()), overwrite: true);
    }

    /// <summary>
    /// Runs the timer function on the instances in turn, a second apart (the tick runs wherever the timer's lock is), until the
    /// campaign's occurrence has been enqueued, granted by the workers and settled.
    /// </summary>
    public async Task<CampaignTimerRun> TickUntilSettledAsync(IReadOnlyList<BulkApp> apps, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var errors = new List<string>();
        for (var tick = 1; ; tick++)
        {
            var app = apps[tick % apps.Count];
            try
            {
                await new RunCampaigns(app.Services.GetRequiredService<CampaignScheduler>()).Run(new Microsoft.Azure.Functions.Worker.TimerInfo(), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The host logs a failed timer run and the next tick tries again.
                errors.Add($"tick {tick}: {ex.GetType().Name}: {ex.Message}");
            }

            var state = (await app.Services.GetRequiredService<TableCampaignStateStore>().ReadAsync(Id, cancellationToken)).State;
            if (state.LastError is { } error)
            {
                errors.Add($"tick {tick}: {error}");
            }

            if (state.LastOccurrence is not null && state.PendingJobs.Count == 0 && state.Occurrences.Count > 0)
            {
                return new CampaignTimerRun(tick, errors, watch.Elapsed, state);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    /// <summary>
    /// Checks that every target has exactly one outcome and nothing else was granted: one occurrence with the audience's
    /// targets, all counted granted, nothing rejected, failed, waiting or over budget, no budget left reserved;
    /// its job in the batch <c>campaign:&lt;id&gt;:&lt;occurrence&gt;</c> ended without failed chunks and has one result row per
    /// target, with the campaign's grant id of each customer of the audience, and no other. Returns the job.
    /// </summary>
    public async Task<BulkJobStatus> CheckAsync(BulkApp app, CampaignState state)
    {
        var occurrence = Assert.Single(state.Occurrences);
        Assert.Equal(Audience.Count, occurrence.Targets);
        Assert.Equal((0L, 0L, 0L, 0L), (occurrence.Rejected, occurrence.Failed, occurrence.Waiting, occurrence.OverBudget));
        // No customer of the audience was granted before this occurrence, so each target is granted by it and counted so:
        // a target counted a duplicate would have its budget released while its units were spent.
        Assert.Equal((Audience.Count, 0L), (occurrence.Granted, occurrence.Duplicates));
        Assert.Equal((Audience.Count, Audience.Count * Units), (state.Grants, state.UnitsGranted));
        Assert.Equal((0L, 0m, false), (state.GrantsReserved, state.UnitsReserved, state.Exhausted));

        var job = await app.StatusAsync(occurrence.JobId!);
        Assert.Equal(BulkJobGrantSink.Batch(Id, occurrence.Occurrence), job.Batch);
        Assert.NotNull(job.FinishedAt);
        Assert.Empty(job.FailedChunks);
        var rows = Csv.Results(await app.ResultsAsync(job));
        Assert.Equal(Audience.Select(c => $"campaign:{Id}:{c}").Order(StringComparer.Ordinal), rows.Select(r => r["grant_id"]).Order(StringComparer.Ordinal));
        Assert.All(rows, r => Assert.Contains(r["status"], new[] { "granted", "duplicate", "granted_or_duplicate" }));
        Assert.Equal(Audience.Count, job.Totals.Granted + job.Totals.Duplicates + (job.Totals.GrantedOrDuplicate ?? 0));
        return job;
    }

    /// <summary>Removes the campaigns container and the state table.</summary>
    public static async Task DeleteAsync(BulkApp app)
    {
        try
        {
            await app.Services.GetRequiredService<CampaignScheduler>().Container.DeleteIfExistsAsync();
            await app.Services.GetRequiredService<TableCampaignStateStore>().Table.DeleteAsync();
        }
        catch (Azure.RequestFailedException)
        {
            // Leftovers in a throwaway Azurite are harmless.
        }
    }
}

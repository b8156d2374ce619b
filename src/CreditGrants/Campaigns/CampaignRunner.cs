using System.Globalization;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Polar;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Campaigns;

/// <summary>A campaign's budget as a report shows it: its limits (null when unset) and what has been granted.</summary>
public sealed record CampaignBudgetView(decimal? MaxTotalUnits, long? MaxGrants, decimal UnitsGranted, long Grants, bool Exhausted)
{
    public static CampaignBudgetView Of(Campaign campaign, CampaignState state)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(state);
        return new(campaign.Budget.MaxTotalUnits, campaign.Budget.MaxGrants, state.UnitsGranted, state.Grants, state.Exhausted);
    }
}

/// <summary>What a run did: each occurrence it handled, the occurrences it skipped, and the budget after it.</summary>
public sealed record CampaignRunResult(string Campaign, IReadOnlyList<OccurrenceResult> Occurrences, long SkippedOccurrences,
    CampaignBudgetView Budget, string? Error)
{
    public long Granted => Occurrences.Sum(o => o.Granted);

    public long Duplicates => Occurrences.Sum(o => o.Duplicates);

    public long Rejected => Occurrences.Sum(o => o.Rejected);

    public long Failed => Occurrences.Sum(o => o.Failed);

    public long Waiting => Occurrences.Sum(o => o.Waiting);

    public decimal UnitsGranted => Occurrences.Sum(o => o.UnitsGranted);
}

/// <summary>An upcoming occurrence, in UTC and in the campaign's time zone.</summary>
public sealed record PreviewOccurrence(DateTimeOffset Utc, DateTimeOffset Local);

/// <summary>What a campaign would do, computed without granting or changing any state.</summary>
/// <param name="Campaign">The campaign's id.</param>
/// <param name="NextOccurrences">The next occurrences after the preview's instant.</param>
/// <param name="AudienceSize">Customers the audience resolves to now (waiting external ids not counted).</param>
/// <param name="Waiting">Listed external ids that no customer has yet.</param>
/// <param name="UnitsPerOccurrence">Units one occurrence would grant now, before the budget and before grants made earlier are deduplicated.</param>
/// <param name="Budget">The budget and what has been granted so far.</param>
/// <param name="DueNow">Occurrences a run at the preview's instant would handle.</param>
public sealed record CampaignPreview(string Campaign, IReadOnlyList<PreviewOccurrence> NextOccurrences, long AudienceSize, long Waiting,
    decimal UnitsPerOccurrence, CampaignBudgetView Budget, IReadOnlyList<DateTimeOffset> DueNow);

/// <summary>
/// Where a run sends an occurrence's grants: granted at once through the bulk chunk processing (the CLI), or written as
/// a bulk job that the queue function grants (the app), so job status and results files come with it.
/// </summary>
public interface ICampaignGrantSink
{
    /// <summary>Grants the rows now and returns their outcomes, or takes them for a job and returns null.</summary>
    Task<ChunkResult?> GrantAsync(Campaign campaign, string occurrence, IReadOnlyList<BulkRow> rows, CancellationToken cancellationToken);

    /// <summary>Ends the occurrence: the id of the job its rows were enqueued as, or null when they were granted at once.</summary>
    Task<string?> CompleteOccurrenceAsync(Campaign campaign, string occurrence, CancellationToken cancellationToken);

    /// <summary>What a job did, once it has ended; null while it runs.</summary>
    Task<JobSettlement?> SettleAsync(string jobId, CancellationToken cancellationToken);
}

/// <summary>How a run is made: who grants, and who hears about progress.</summary>
/// <param name="Sink">Where grants go; by default they are granted at once through the bulk chunk processing.</param>
/// <param name="Progress">Told after every chunk.</param>
public sealed record CampaignRunOptions(ICampaignGrantSink? Sink = null, IProgress<CampaignProgress>? Progress = null);

/// <summary>Grants at once through <see cref="BulkChunkProcessor"/>: the CLI's way.</summary>
public sealed class ImmediateGrantSink(BulkChunkProcessor processor) : ICampaignGrantSink
{
    public async Task<ChunkResult?> GrantAsync(Campaign campaign, string occurrence, IReadOnlyList<BulkRow> rows, CancellationToken cancellationToken) =>
        await processor.ProcessAsync(rows, dryRun: false, cancellationToken).ConfigureAwait(false);

    public Task<string?> CompleteOccurrenceAsync(Campaign campaign, string occurrence, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public Task<JobSettlement?> SettleAsync(string jobId, CancellationToken cancellationToken) => Task.FromResult<JobSettlement?>(null);
}

/// <summary>Where a run is: the occurrence at hand and its targets done so far.</summary>
public sealed record CampaignProgress(string Occurrence, long TargetsDone, OccurrenceResult SoFar);

/// <summary>
/// Runs a campaign's due occurrences: resolves the audience page by page, derives each target's grant id from the
/// campaign, the occurrence and the customer, reserves the budget before sending, grants through the bulk pipeline's
/// chunk processing, and releases what duplicates and rejections did not use. A repeated, late or overlapping run grants
/// nothing twice, since the grant ids never depend on when it ran.
/// </summary>
public sealed partial class CampaignRunner(
    BulkChunkProcessor processor,
    IPolarGateway polar,
    CampaignAudienceReader audience,
    TimeProvider time,
    ILogger<CampaignRunner> logger)
{
    /// <summary>Targets granted per chunk: one budget reservation and one batched ingest each.</summary>
    public const int ChunkSize = 1000;

    /// <summary>The grant id of a campaign's grant to a target at an occurrence.</summary>
    public static GrantId GrantIdFor(Campaign campaign, DateTimeOffset occurrence, CampaignTarget target)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(target);
        return new GrantId(campaign.Policy == GrantPolicy.OncePerCustomer
            ? $"campaign:{campaign.Id}:{target.Key}"
            : $"campaign:{campaign.Id}:{CampaignSchedule.Key(occurrence)}:{target.Key}");
    }

    /// <summary>Runs the occurrences due at <paramref name="at"/> (at most now: Polar takes no future events).</summary>
    /// <param name="campaign">A valid campaign.</param>
    /// <param name="store">Where the campaign's state and budget live.</param>
    /// <param name="at">The instant of the run; occurrences up to it are due.</param>
    /// <param name="options">Where grants go and who hears of progress.</param>
    /// <param name="cancellationToken">Stops the run; what was granted stays granted, and a later run finishes the occurrence.</param>
    public async Task<CampaignRunResult> RunAsync(Campaign campaign, ICampaignStateStore store, DateTimeOffset at,
        CampaignRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(store);
        var sink = options?.Sink ?? new ImmediateGrantSink(processor);
        var progress = options?.Progress;
        if (at > time.GetUtcNow())
        {
            throw new ArgumentOutOfRangeException(nameof(at), at, "A campaign cannot run at a future instant: Polar takes no events dated in the future.");
        }

        var state = await store.UpdateAsync(campaign.Id, s => s.FirstSeen is null ? s with { FirstSeen = at } : s, cancellationToken).ConfigureAwait(false);
        state = await SettlePendingJobsAsync(campaign, store, state, sink, cancellationToken).ConfigureAwait(false);
        if (state.Exhausted)
        {
            LogExhausted(campaign.Id);
            return new CampaignRunResult(campaign.Id, [], 0, CampaignBudgetView.Of(campaign, state), null);
        }

        var due = CampaignOccurrences.Due(campaign, state.LastOccurrence, state.FirstSeen, at, out var skipped);
        if (skipped > 0)
        {
            var seen = state.LastOccurrence;
            var lastSkipped = due.Skipped.Count == skipped ? due.Skipped[^1] : due.Due[0].AddTicks(-1);
            // Counted once even when runs overlap: only the run that moves the last occurrence past the skipped ones counts them.
            state = await store.UpdateAsync(campaign.Id, s => s.LastOccurrence == seen
                ? s with { SkippedOccurrences = s.SkippedOccurrences + skipped, LastOccurrence = lastSkipped }
                : s, cancellationToken).ConfigureAwait(false);
            LogSkipped(campaign.Id, skipped, CampaignSchedule.Key(due.Skipped[0]), campaign.CatchUp);
        }

        var results = new List<OccurrenceResult>();
        foreach (var occurrence in due.Due)
        {
            var (result, current, error) = await RunOccurrenceAsync(campaign, store, occurrence, sink, progress, cancellationToken).ConfigureAwait(false);
            state = current;
            if (result is not null)
            {
                results.Add(result);
            }

            if (error is not null)
            {
                return new CampaignRunResult(campaign.Id, results, skipped, CampaignBudgetView.Of(campaign, state), error);
            }

            if (state.Exhausted)
            {
                break;
            }
        }

        return new CampaignRunResult(campaign.Id, results, skipped, CampaignBudgetView.Of(campaign, state), null);
    }

    /// <summary>What the campaign would do at <paramref name="at"/>: no ingest, no state written.</summary>
    public async Task<CampaignPreview> PreviewAsync(Campaign campaign, ICampaignStateStore store, DateTimeOffset at, int count,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(store);
        var state = (await store.ReadAsync(campaign.Id, cancellationToken).ConfigureAwait(false)).State;
        var next = CampaignOccurrences.Next(campaign, at, count).Select(o => new PreviewOccurrence(o, campaign.Schedule.Local(o))).ToList();
        var due = CampaignOccurrences.Due(campaign, state.LastOccurrence, state.FirstSeen ?? at, at, out _);
        long size = 0, waiting = 0;
        await foreach (var page in audience.PagesAsync(campaign, state, cancellationToken).ConfigureAwait(false))
        {
            waiting += page.Count(t => t.IsWaiting);
            size += page.Count(t => !t.IsWaiting);
        }

        return new CampaignPreview(campaign.Id, next, size, waiting, size * campaign.Units, CampaignBudgetView.Of(campaign, state), due.Due);
    }

    /// <summary>Settles the jobs of earlier occurrences that have ended: what they granted is spent, what they did not is released.</summary>
    private static async Task<CampaignState> SettlePendingJobsAsync(Campaign campaign, ICampaignStateStore store, CampaignState state,
        ICampaignGrantSink sink, CancellationToken cancellationToken)
    {
        foreach (var pending in state.PendingJobs)
        {
            if (await sink.SettleAsync(pending.JobId, cancellationToken).ConfigureAwait(false) is not { } settled)
            {
                continue;
            }

            var spent = settled.Granted + settled.Released;
            state = await store.UpdateAsync(campaign.Id, s => !s.PendingJobs.Contains(pending) ? s : s with
            {
                PendingJobs = [.. s.PendingJobs.Where(p => p != pending)],
                GrantsReserved = s.GrantsReserved - spent,
                UnitsReserved = s.UnitsReserved - spent * campaign.Units,
                Grants = s.Grants + settled.Granted,
                UnitsGranted = s.UnitsGranted + settled.Granted * campaign.Units,
                Occurrences = [.. s.Occurrences.Select(o => o.JobId != pending.JobId ? o : o with
                {
                    Granted = o.Granted + settled.Granted,
                    Duplicates = o.Duplicates + settled.Duplicates,
                    Rejected = o.Rejected + settled.Rejected,
                    Failed = o.Failed + settled.Failed,
                    UnitsGranted = o.UnitsGranted + settled.Granted * campaign.Units,
                    Enqueued = 0,
                    ResultsFile = settled.ResultsFile,
                })],
            }, cancellationToken).ConfigureAwait(false);
        }

        return state;
    }

    private async Task<(OccurrenceResult? Result, CampaignState State, string? Error)> RunOccurrenceAsync(Campaign campaign,
        ICampaignStateStore store, DateTimeOffset occurrence, ICampaignGrantSink sink, IProgress<CampaignProgress>? progress,
        CancellationToken cancellationToken)
    {
        var key = CampaignSchedule.Key(occurrence);
        var state = (await store.ReadAsync(campaign.Id, cancellationToken).ConfigureAwait(false)).State;
        if (state.LastOccurrence >= occurrence)
        {
            // Another run finished this occurrence meanwhile.
            return (null, state, null);
        }

        var tally = new OccurrenceResult(key, 0, 0, 0, 0, 0, 0, 0, 0);
        var highWater = state.HighWaterMark;
        var buffer = new List<CampaignTarget>(ChunkSize);
        var stopped = false;
        string? error = null;
        try
        {
            await foreach (var page in audience.PagesAsync(campaign, state, cancellationToken).ConfigureAwait(false))
            {
                foreach (var target in page)
                {
                    if (target.CreatedAt is { } created && campaign.Audience is NewCustomersAudience && (highWater is null || created > highWater))
                    {
                        highWater = created;
                    }

                    buffer.Add(target);
                    if (buffer.Count == ChunkSize)
                    {
                        (tally, stopped) = await GrantChunkAsync(campaign, store, sink, occurrence, buffer, tally, cancellationToken).ConfigureAwait(false);
                        progress?.Report(new CampaignProgress(key, tally.Targets, tally));
                        buffer.Clear();
                        if (stopped)
                        {
                            break;
                        }
                    }
                }

                if (stopped)
                {
                    break;
                }
            }

            if (!stopped && buffer.Count > 0)
            {
                (tally, stopped) = await GrantChunkAsync(campaign, store, sink, occurrence, buffer, tally, cancellationToken).ConfigureAwait(false);
                progress?.Report(new CampaignProgress(key, tally.Targets, tally));
            }
        }
        catch (PolarException ex) when (ex.Kind is PolarErrorKind.Unavailable or PolarErrorKind.RateLimited)
        {
            // The occurrence stays due: the next run resolves the audience again and Polar's deduplication absorbs what was sent.
            error = $"occurrence {key}: Polar stayed unavailable ({ex.Message}); run again to finish it, nothing is granted twice";
            // The chunk at hand is counted failed whole (some of it may have been granted; state has the exact budget).
            tally = tally with { Targets = tally.Targets + buffer.Count, Failed = tally.Failed + buffer.Count };
            LogOccurrenceFailed(ex, campaign.Id, key);
            state = await store.UpdateAsync(campaign.Id, s => s with { LastError = error }, cancellationToken).ConfigureAwait(false);
            return (tally, state, error);
        }

        var jobId = await sink.CompleteOccurrenceAsync(campaign, key, cancellationToken).ConfigureAwait(false);
        var enqueued = tally.Enqueued;
        if (jobId is not null)
        {
            tally = tally with { JobId = jobId };
        }

        state = await store.UpdateAsync(campaign.Id, s => (s.LastOccurrence is null || s.LastOccurrence < occurrence ? s with
        {
            LastOccurrence = occurrence,
            PendingJobs = jobId is null || enqueued == 0 ? s.PendingJobs : [.. s.PendingJobs, new PendingJob(key, jobId, enqueued, enqueued * campaign.Units)],
            HighWaterMark = highWater is { } mark && (s.HighWaterMark is null || mark > s.HighWaterMark) ? mark : s.HighWaterMark,
            LastError = null,
        } : s).WithOccurrence(tally), cancellationToken).ConfigureAwait(false);
        LogOccurrence(campaign.Id, key, tally.Targets, tally.Granted, tally.Duplicates, tally.Rejected, tally.Waiting, tally.OverBudget);
        return (tally, state, error);
    }

    /// <summary>Grants one chunk of targets, reserving the budget for as many as fit each time; true when the budget stopped it.</summary>
    private async Task<(OccurrenceResult Tally, bool Exhausted)> GrantChunkAsync(Campaign campaign, ICampaignStateStore store,
        ICampaignGrantSink sink, DateTimeOffset occurrence, List<CampaignTarget> targets, OccurrenceResult tally, CancellationToken cancellationToken)
    {
        tally = tally with { Targets = tally.Targets + targets.Count, Waiting = tally.Waiting + targets.Count(t => t.IsWaiting) };
        var pending = targets.Where(t => !t.IsWaiting).ToList();
        foreach (var waiting in targets.Where(t => t.IsWaiting))
        {
            LogWaiting(campaign.Id, waiting.ExternalId!);
        }

        if (sink is not ImmediateGrantSink && campaign.Policy == GrantPolicy.OncePerCustomer && campaign.Budget.IsLimited && pending.Count > 0)
        {
            // A job's grants are only known when it ends, so budget reserved for customers granted at an earlier occurrence
            // would come back too late and stop the campaign early: those are found first (one read per 100) and left out.
            var ids = pending.ToDictionary(t => GrantIdFor(campaign, occurrence, t).Value, StringComparer.Ordinal);
            var found = await polar.FindEventsByMetadataAsync(GrantService.GrantIdKey, ids.Keys, cancellationToken).ConfigureAwait(false);
            var granted = found.Events.Where(e => e.Value.Count > 0).Select(e => ids[e.Key]).ToHashSet();
            pending.RemoveAll(granted.Contains);
            tally = tally with { Duplicates = tally.Duplicates + granted.Count };
        }

        while (pending.Count > 0)
        {
            var reserved = await ReserveAsync(campaign, store, pending.Count, cancellationToken).ConfigureAwait(false);
            if (reserved == 0)
            {
                LogBudgetReached(campaign.Id, pending.Count);
                return (tally with { OverBudget = tally.OverBudget + pending.Count }, true);
            }

            var batch = pending.Take(reserved).ToList();
            pending.RemoveRange(0, reserved);
            var rows = batch.Select((t, i) => Row(campaign, occurrence, t, tally.Targets - targets.Count + i + 1)).ToList();
            // Should Polar fail here, it may have taken some of the chunk: the reservation stays, so the budget is never overspent.
            var chunk = await sink.GrantAsync(campaign, CampaignSchedule.Key(occurrence), rows, cancellationToken).ConfigureAwait(false);

            if (chunk is null)
            {
                // Enqueued as a job: the reservation stays until the job ends and a later run settles it.
                tally = tally with { Enqueued = tally.Enqueued + reserved };
                continue;
            }

            var granted = chunk.Rows.Count(r => r.Status is RowStatus.Granted or RowStatus.GrantedOrDuplicate);
            var units = granted * campaign.Units;
            await store.UpdateAsync(campaign.Id, s => s with
            {
                UnitsReserved = s.UnitsReserved - reserved * campaign.Units,
                GrantsReserved = s.GrantsReserved - reserved,
                UnitsGranted = s.UnitsGranted + units,
                Grants = s.Grants + granted,
            }, cancellationToken).ConfigureAwait(false);
            tally = tally with
            {
                Granted = tally.Granted + granted,
                Duplicates = tally.Duplicates + chunk.Rows.Count(r => r.Status == RowStatus.Duplicate),
                Rejected = tally.Rejected + chunk.Rejected,
                UnitsGranted = tally.UnitsGranted + units,
            };
            foreach (var rejected in chunk.Rows.Where(r => r.Status == RowStatus.Rejected))
            {
                LogRejected(campaign.Id, rejected.GrantId ?? "", rejected.Reason ?? "");
            }
        }

        return (tally, false);
    }

    /// <summary>Reserves room for up to <paramref name="wanted"/> grants; 0 marks the campaign exhausted.</summary>
    private static async Task<int> ReserveAsync(Campaign campaign, ICampaignStateStore store, int wanted, CancellationToken cancellationToken)
    {
        var (_, reserved) = await store.UpdateAsync(campaign.Id, s =>
        {
            if (s.Exhausted)
            {
                return (s, 0);
            }

            long fit = wanted;
            if (campaign.Budget.MaxGrants is { } maxGrants)
            {
                fit = Math.Min(fit, maxGrants - s.Grants - s.GrantsReserved);
            }

            if (campaign.Budget.MaxTotalUnits is { } maxUnits)
            {
                fit = Math.Min(fit, (long)Math.Floor((maxUnits - s.UnitsGranted - s.UnitsReserved) / campaign.Units));
            }

            fit = Math.Max(0, fit);
            return fit == 0
                ? (s with { Exhausted = true }, 0)
                : (s with { GrantsReserved = s.GrantsReserved + fit, UnitsReserved = s.UnitsReserved + fit * campaign.Units }, (int)fit);
        }, cancellationToken).ConfigureAwait(false);
        return reserved;
    }

    /// <summary>
    /// The row of a target's grant. Its expiry is the occurrence plus <see cref="Campaign.ExpiresAfter"/>, never the run's time, so a
    /// repeated run sends the same grant (an occurrence run so late that its grant would already have expired is rejected when granted).
    /// </summary>
    private static BulkRow Row(Campaign campaign, DateTimeOffset occurrence, CampaignTarget target, long line)
    {
        var grant = new CreditGrant(GrantIdFor(campaign, occurrence, target), new CustomerRef(target.ExternalId, target.CustomerId),
            campaign.Units, campaign.Meter, campaign.Reason, campaign.Source, campaign.ExpiryOf(occurrence), campaign.CarryOver);
        return new BulkRow(line, grant, [], campaign.Units.ToString(CultureInfo.InvariantCulture), target.ExternalId, target.CustomerId?.ToString("D"));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Campaign {Campaign} is exhausted; no Polar request made")]
    private partial void LogExhausted(string campaign);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Campaign {Campaign}: skipped {Skipped} missed occurrences from {First} (catchUp {CatchUp})")]
    private partial void LogSkipped(string campaign, long skipped, string first, int catchUp);

    [LoggerMessage(Level = LogLevel.Information, Message = "Campaign {Campaign} occurrence {Occurrence}: {Targets} targets, {Granted} granted, {Duplicates} duplicates, {Rejected} rejected, {Waiting} waiting, {OverBudget} over budget")]
    private partial void LogOccurrence(string campaign, string occurrence, long targets, long granted, long duplicates, long rejected, long waiting, long overBudget);

    [LoggerMessage(Level = LogLevel.Information, Message = "Campaign {Campaign}: external id {ExternalId} has no customer yet; waiting for it")]
    private partial void LogWaiting(string campaign, string externalId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Campaign {Campaign}: budget reached; {Targets} targets not granted, campaign exhausted")]
    private partial void LogBudgetReached(string campaign, int targets);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Campaign {Campaign}: grant {GrantId} rejected: {Reason}")]
    private partial void LogRejected(string campaign, string grantId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Campaign {Campaign} occurrence {Occurrence}: Polar stayed unavailable")]
    private partial void LogOccurrenceFailed(Exception exception, string campaign, string occurrence);
}

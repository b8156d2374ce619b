using System.Text.Json.Serialization;

namespace CreditGrants.Campaigns;

/// <summary>
/// What is known about a campaign across runs: the last occurrence processed, the budget spent and reserved, the
/// <c>newCustomers</c> high-water mark, skipped occurrences and the recent occurrences' totals.
/// </summary>
public sealed record CampaignState
{
    public required string CampaignId { get; init; }

    /// <summary>When a run first saw the campaign: a cron campaign without <c>startsAt</c> begins there.</summary>
    public DateTimeOffset? FirstSeen { get; init; }

    public DateTimeOffset? LastOccurrence { get; init; }

    /// <summary>The newest <c>created_at</c> seen by a <c>newCustomers</c> run; the next run lists back to it (less a margin).</summary>
    public DateTimeOffset? HighWaterMark { get; init; }

    /// <summary>Units reserved by grants in flight; a run that died mid-chunk leaves its reservation, so the budget is never overspent.</summary>
    public decimal UnitsReserved { get; init; }

    public long GrantsReserved { get; init; }

    public decimal UnitsGranted { get; init; }

    public long Grants { get; init; }

    public bool Exhausted { get; init; }

    public long SkippedOccurrences { get; init; }

    public string? LastError { get; init; }

    /// <summary>Occurrences handed to a bulk job whose outcome is not known yet; their grants stay reserved until the job ends.</summary>
    public IReadOnlyList<PendingJob> PendingJobs { get; init; } = [];

    /// <summary>The most recent occurrences, newest last (at most <see cref="MaxOccurrencesKept"/>).</summary>
    public IReadOnlyList<OccurrenceResult> Occurrences { get; init; } = [];

    /// <summary>How many occurrence results the state keeps.</summary>
    public const int MaxOccurrencesKept = 50;

    public static CampaignState New(string campaignId) => new() { CampaignId = campaignId };

    /// <summary>The state with one more occurrence result, keeping the newest few.</summary>
    public CampaignState WithOccurrence(OccurrenceResult result) =>
        this with { Occurrences = [.. Occurrences.Append(result).TakeLast(MaxOccurrencesKept)] };
}

/// <summary>How one occurrence ended: its targets and each target's outcome, counted.</summary>
/// <param name="Occurrence">The occurrence's key, its scheduled instant in UTC (<c>2026-12-07T08:00:00Z</c>).</param>
/// <param name="Targets">Customers the audience resolved to, waiting ones included.</param>
/// <param name="Granted">Grants made now (with grants Polar took in a request that also held repeats).</param>
/// <param name="Duplicates">Grants made before, by this campaign: nothing changed.</param>
/// <param name="Rejected">Grants refused, each with its reason in the results.</param>
/// <param name="Failed">Grants not known to be made because Polar stayed unavailable; running again grants nothing twice.</param>
/// <param name="Waiting">Listed external ids no customer has yet: not granted, tried again at the next occurrence.</param>
/// <param name="OverBudget">Targets not granted because the budget would have been crossed.</param>
/// <param name="UnitsGranted">Units of the grants made now.</param>
public sealed record OccurrenceResult(
    string Occurrence,
    long Targets,
    long Granted,
    long Duplicates,
    long Rejected,
    long Failed,
    long Waiting,
    long OverBudget,
    decimal UnitsGranted)
{
    /// <summary>Where the occurrence's per-target results were written, when they were.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ResultsFile { get; init; }

    /// <summary>The bulk job the occurrence's grants were enqueued as (in the app).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? JobId { get; init; }

    /// <summary>Grants enqueued in <see cref="JobId"/> and not settled yet.</summary>
    public long Enqueued { get; init; }
}

/// <summary>An occurrence's grants enqueued as a bulk job, and the budget reserved for them.</summary>
public sealed record PendingJob(string Occurrence, string JobId, long Grants, decimal Units);

/// <summary>What a finished bulk job did with an occurrence's grants.</summary>
/// <param name="Granted">Grants made (with those Polar took in a request that also held repeats).</param>
/// <param name="Released">Grants that used no budget: duplicates and rejections. Failed rows stay reserved, since a retry of the job may still grant them.</param>
/// <param name="Duplicates">Grants made before.</param>
/// <param name="Rejected">Grants refused.</param>
/// <param name="Failed">Rows of chunks that failed.</param>
/// <param name="ResultsFile">Where the job's results file is.</param>
public sealed record JobSettlement(long Granted, long Released, long Duplicates, long Rejected, long Failed, string? ResultsFile);

/// <summary>A campaign's state with the version it was read at, for an optimistic write.</summary>
public sealed record VersionedCampaignState(CampaignState State, string? Version);

/// <summary>
/// Where campaign state lives: a locked file per campaign for the CLI, a table row for the app. Writes are optimistic: a
/// write made against a version that is no longer current fails, and the caller reads again.
/// </summary>
public interface ICampaignStateStore
{
    /// <summary>The campaign's state, or a new one (version null) when none was written.</summary>
    Task<VersionedCampaignState> ReadAsync(string campaignId, CancellationToken cancellationToken = default);

    /// <summary>Writes <paramref name="state"/> if the stored version is still <paramref name="expectedVersion"/>; false if another writer came first.</summary>
    Task<bool> TryWriteAsync(CampaignState state, string? expectedVersion, CancellationToken cancellationToken = default);
}

/// <summary>Read-modify-write over an <see cref="ICampaignStateStore"/>, retried while other writers win.</summary>
public static class CampaignStateStoreExtensions
{
    private const int MaxAttempts = 100;

    /// <summary>Applies <paramref name="change"/> to the current state until the write goes through; returns the state written and the change's answer.</summary>
    public static async Task<(CampaignState State, T Answer)> UpdateAsync<T>(this ICampaignStateStore store, string campaignId,
        Func<CampaignState, (CampaignState State, T Answer)> change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(change);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var current = await store.ReadAsync(campaignId, cancellationToken).ConfigureAwait(false);
            var (next, answer) = change(current.State);
            if (await store.TryWriteAsync(next, current.Version, cancellationToken).ConfigureAwait(false))
            {
                return (next, answer);
            }
        }

        throw new InvalidOperationException($"Campaign '{campaignId}': its state changed under every one of {MaxAttempts} attempts to update it; another run is busy with it, try again.");
    }

    public static async Task<CampaignState> UpdateAsync(this ICampaignStateStore store, string campaignId,
        Func<CampaignState, CampaignState> change, CancellationToken cancellationToken = default) =>
        (await store.UpdateAsync(campaignId, s => (change(s), true), cancellationToken).ConfigureAwait(false)).State;
}

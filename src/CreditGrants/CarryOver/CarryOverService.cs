using System.Globalization;
using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging;

namespace CreditGrants.CarryOver;

/// <summary>
/// What one carry-over run did on one meter: the resets it saw and the re-grants it sent (granted now, or duplicates of
/// ones made before), and <see cref="CarryOverRead.Shortfall"/>: units by which the re-grants may be short, from usage
/// dated before the latest reset but sent after it (logged as a warning when above 0).
/// </summary>
public sealed record CarryOverMeter(string Meter, int Resets, IReadOnlyList<GrantOutcome> Regrants, int PolarRequests)
{
    /// <summary>Units by which Polar's balance was below what the events give by timestamps since the latest reset (<see cref="CarryOverRead.Shortfall"/>).</summary>
    public decimal Shortfall { get; init; }
}

/// <summary>What one carry-over run did for a customer: the meters of its carry-over grants, each with its re-grants.</summary>
public sealed record CarryOverOutcome(string ExternalCustomerId, IReadOnlyList<CarryOverMeter> Meters)
{
    /// <summary>The re-grants that were new (not duplicates of ones made before).</summary>
    public int Granted => Meters.Sum(m => m.Regrants.Count(r => r.Status == GrantStatus.Granted));
}

/// <summary>
/// Thrown when a reset was announced (a <c>subscription.cycled</c> webhook) but Polar's event store does not list it yet:
/// the event store lags by seconds, so the webhook delivery is retried later by the queue rather than guessed at.
/// </summary>
public sealed class CarryOverNotReadyException : Exception
{
    public CarryOverNotReadyException(string message) : base(message) { }

    public CarryOverNotReadyException() { }

    public CarryOverNotReadyException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// Grants again the unspent units of a customer's carry-over grants after each meter reset (docs/credit-lifecycle.md,
/// "Carry-over"): finds the meters of the customer's carry-over grants (one event list, by <see cref="GrantMetadata.CarryOver"/>),
/// reads each meter's blocks, resets and usage (<see cref="LedgerReader.ReadForCarryOverAsync"/>), and sends the re-grants
/// <see cref="CreditAllocation.CarryOvers"/> calls for: each dated at its reset, id <c>DerivedGrantId.Of(CarryOver, grant id,
/// reset event id)</c>, so a reset carries a grant once however often this runs, keeping the original's expiry and flag,
/// and naming the grant it carries (<see cref="GrantMetadata.Carries"/>). Idempotent: a run repeated, late or out of order
/// sends the same ids, and Polar keeps the first.
/// </summary>
public sealed partial class CarryOverService(IPolarGateway polar, LedgerReader ledgers, GrantService grants, ILogger<CarryOverService> logger)
{
    /// <summary>The source recorded on re-grants (<see cref="GrantMetadata.Source"/>).</summary>
    public const string Source = "carry-over";

    private const string ResetEvent = "meter.reset";
    private const int MaxPages = 100;

    /// <summary>
    /// Carries over the customer's carry-over grants at every reset so far. With <paramref name="resetExpectedSince"/>, a
    /// reset of the customer at or after that instant must be listed by Polar's event store first: when it is not (the store
    /// lags), <see cref="CarryOverNotReadyException"/> is thrown, so the caller retries later. Throws <see cref="PolarException"/>.
    /// </summary>
    /// <param name="externalCustomerId">The customer's external id (carry-over grants go by it, as the ledger reads them).</param>
    /// <param name="resetExpectedSince">When a webhook announced a reset (its time less a tolerance), or null to take the resets listed.</param>
    /// <param name="cancellationToken">Cancels the Polar requests.</param>
    public async Task<CarryOverOutcome> CarryOverAsync(string externalCustomerId, DateTimeOffset? resetExpectedSince, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(externalCustomerId);
        var meters = await CarryOverMetersAsync(externalCustomerId, cancellationToken).ConfigureAwait(false);
        if (meters.Count == 0)
        {
            LogNothingToCarry(externalCustomerId.Length);
            return new CarryOverOutcome(externalCustomerId, []);
        }

        if (resetExpectedSince is { } since && !await ResetListedAsync(externalCustomerId, since, cancellationToken).ConfigureAwait(false))
        {
            throw new CarryOverNotReadyException(string.Create(CultureInfo.InvariantCulture,
                $"No meter.reset of the customer since {since:O} is listed by Polar's event store yet; retried later."));
        }

        var done = new List<CarryOverMeter>();
        foreach (var meter in meters)
        {
            var read = await ledgers.ReadForCarryOverAsync(externalCustomerId, meter, cancellationToken).ConfigureAwait(false);
            var resetIds = read.Resets.GroupBy(r => r.At).ToDictionary(g => g.Key, g => g.Min(r => r.Id).ToString("D"));
            var ids = new Dictionary<string, GrantId>(StringComparer.Ordinal);
            var regrants = CreditAllocation.CarryOvers(read.Blocks, resetIds.Keys, read.UsageAt, read.At, (block, reset) =>
            {
                var id = DerivedGrantId.Of(GrantIdDomain.CarryOver, block.GrantId, resetIds[reset]);
                ids[id.Value] = id;
                return id.Value;
            });
            var outcomes = new List<GrantOutcome>(regrants.Count);
            // Each is dated at the latest reset (CreditAllocation.CarryOvers): Polar counts a balance from the latest reset's
            // ingestion, so a re-grant for an earlier reset that was never made lands there, with what was unspent then.
            foreach (var (regrant, carried) in regrants)
            {

                var grant = new CreditGrant(ids[regrant.GrantId], CustomerRef.External(externalCustomerId), regrant.Units, read.Meter,
                    $"Carried over a meter reset from grant {carried.GrantId}", Source,
                    read.ExpiresAsGiven.GetValueOrDefault(carried.GrantId) ?? carried.ExpiresAt, CarryOver: true)
                {
                    Carries = carried.GrantId,
                    Timestamp = regrant.GrantedAt,
                };
                var outcome = await grants.GrantAsync(grant, cancellationToken).ConfigureAwait(false);
                outcomes.Add(outcome);
                LogCarried(outcome.Status, regrant.Units, carried.GrantId, regrant.GrantId, regrant.GrantedAt);
            }

            if (read.Shortfall > 0 && read.Blocks.Any(b => b.CarryOver))
            {
                LogShortfall(externalCustomerId, read.Meter, read.Shortfall);
            }

            done.Add(new CarryOverMeter(meter, read.Resets.Count, outcomes, read.PolarRequests) { Shortfall = read.Shortfall });
        }

        return new CarryOverOutcome(externalCustomerId, done);
    }

    /// <summary>The meters the customer has carry-over grants on (their <see cref="GrantMetadata.Meter"/>), in name order.</summary>
    private async Task<IReadOnlyList<string>> CarryOverMetersAsync(string externalCustomerId, CancellationToken cancellationToken)
    {
        var filter = new MeterFilter("and", [new MeterFilterClause(GrantMetadata.CarryOver, "eq", PolarMetadata.Boolean(true))]);
        var meters = new SortedSet<string>(StringComparer.Ordinal);
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await polar.ListEventsAsync(new EventListQuery(Source: "user", Page: page, Limit: LedgerReader.PageSize)
            {
                ExternalCustomerId = externalCustomerId,
                Filter = filter,
            }, cancellationToken).ConfigureAwait(false);
            foreach (var recorded in result.Items)
            {
                if (recorded.Metadata?.GetValueOrDefault(GrantMetadata.Meter) is { ValueKind: JsonValueKind.String } meter)
                {
                    meters.Add(meter.GetString()!);
                }
            }

            if (result.Items.Count == 0 || page >= result.Pagination.MaxPage)
            {
                break;
            }
        }

        return [.. meters];
    }

    /// <summary>Whether Polar's event store lists a <c>meter.reset</c> of the customer at or after <paramref name="since"/> (one request).</summary>
    private async Task<bool> ResetListedAsync(string externalCustomerId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var filter = new MeterFilter("and",
        [
            new MeterFilterClause("source", "eq", PolarMetadata.Text("system")),
            new MeterFilterClause("name", "eq", PolarMetadata.Text(ResetEvent)),
        ]);
        var result = await polar.ListEventsAsync(new EventListQuery(Source: null, Sorting: "-timestamp", Limit: 1)
        {
            ExternalCustomerId = externalCustomerId,
            Filter = filter,
        }, cancellationToken).ConfigureAwait(false);
        return result.Items.Any(e => e.Timestamp >= since);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Carry-over of customer {ExternalCustomerId} on meter {Meter}: Polar's balance is {Shortfall} units below what the events give by timestamps since the latest reset. Usage dated before the reset but sent after it counts in Polar's new window and was also counted before the reset, so the re-grants may be short by up to that; or the balance lagged. Compare the ledger with Polar's balance and grant the difference by hand if it persists.")]
    private partial void LogShortfall(string externalCustomerId, string meter, decimal shortfall);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Carry-over: the customer (external id of {Length} characters) has no carry-over grants")]
    private partial void LogNothingToCarry(int length);

    [LoggerMessage(Level = LogLevel.Information, Message = "Carry-over: {Status} {Units} units of grant {GrantId} again as {RegrantId}, dated at the reset {ResetAt}")]
    private partial void LogCarried(GrantStatus status, decimal units, string grantId, string regrantId, DateTimeOffset resetAt);
}

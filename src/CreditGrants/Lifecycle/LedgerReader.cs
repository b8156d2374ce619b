using System.Globalization;
using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;

namespace CreditGrants.Lifecycle;

/// <summary>A <c>meter.reset</c> system event: its Polar event id (a carry-over re-grant's id is derived from it) and when it happened.</summary>
public sealed record ResetEvent(Guid Id, DateTimeOffset At);

/// <summary>
/// A customer's blocks on a meter for carry-over (<see cref="LedgerReader.ReadForCarryOverAsync"/>): the blocks, the resets,
/// the usage (units from any fixed origin, exact at the resets), when it was read, and the Polar requests it took.
/// </summary>
/// <see cref="ExpiresAsGiven"/> holds each expiring grant's <see cref="GrantMetadata.ExpiresAt"/> as written (a block has the hour it takes effect at).
public sealed record CarryOverRead(string ExternalCustomerId, string Meter, IReadOnlyList<CreditBlock> Blocks, IReadOnlyList<ResetEvent> Resets,
    Func<DateTimeOffset, decimal> UsageAt, DateTimeOffset At, int PolarRequests, IReadOnlyDictionary<string, DateTimeOffset?> ExpiresAsGiven)
{
    /// <summary>
    /// Units by which Polar's balance is below what the events give by timestamps for the window since the latest reset
    /// (0 without a reset): usage dated before the reset but sent after it, which Polar counts in the new window (its
    /// window starts at the reset's ingestion) and the carry-over before the reset, so re-grants may be short by up to this;
    /// or the balance's lag of seconds.
    /// </summary>
    public decimal Shortfall { get; init; }
}

/// <summary>
/// Reads a customer's ledger on a meter (docs/credit-lifecycle.md) from what Polar holds, listing usage events only inside a reset's hour:
/// this app's own events on the meter (grants and compensations, found by <see cref="GrantMetadata.Meter"/>) with the
/// meter's resets and Meter Credit events, 100 a page; the meter's hourly quantities for the customer (usage = net
/// quantity − our events); the customer's usage events in the latest reset's hour before it, when that hour had usage
/// (so the blocks granted at the reset are not charged it); and the customer meter. 2 + ⌈entries/100⌉ requests, plus
/// ⌈those usage events/100⌉ (at least one) when the latest reset's hour had usage (the meter itself is the grant target,
/// cached as grants cache it). Blocks are then allocated by <see cref="CreditAllocation"/>.
/// </summary>
public sealed class LedgerReader(IPolarGateway polar, RecentGrants recent, TimeProvider time)
{
    /// <summary>Polar's largest page.</summary>
    public const int PageSize = 100;

    private const string ResetEvent = "meter.reset";
    private const string CreditedEvent = "meter.credited";
    private const int MaxPages = 10_000;

    /// <summary>
    /// The ledger of the customer with external id <paramref name="externalCustomerId"/> on meter <paramref name="meterName"/>.
    /// A customer with no events on it has an empty ledger (plus the grants this process made moments ago, as pending).
    /// Throws <see cref="MeterNotGrantableException"/> for a meter that cannot take grants, <see cref="PolarException"/>.
    /// </summary>
    public async Task<CustomerLedger> ReadAsync(string externalCustomerId, string meterName, CancellationToken cancellationToken = default)
    {
        var (target, listing, usage, now, requests) = await ReadBlocksAsync(externalCustomerId, meterName, forCarryOver: false, cancellationToken)
            .ConfigureAwait(false);
        var meterId = target.Meter.Id;
        var (listed, grants, compensations, resetEvents, credits, ours, seen, blocks, revocationOf, expiryOf) = listing;
        var resets = resetEvents.Select(r => r.Timestamp).ToList();

        // 3. The customer meter: what Polar's balance shows now.
        var standing = await polar.GetCustomerMeterAsync(externalCustomerId, meterId, cancellationToken).ConfigureAwait(false);
        requests++;

        var states = CreditAllocation.Allocate(blocks, resets, usage.At(now), now);
        var regranted = grants.Select(g => RecordedCompensation.Text(g.Metadata!, GrantMetadata.Carries)).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var carried = CarryOverUnits(states, blocks, resets, usage.At(now), regranted);
        var entries = new List<LedgerGrant>(states.Count);
        for (var i = 0; i < states.Count; i++)
        {
            var state = states[i];
            var polarCredit = i >= grants.Count;
            var recorded = polarCredit ? credits[i - grants.Count] : grants[i];
            var metadata = recorded.Metadata!;
            var revocation = polarCredit ? null : revocationOf.GetValueOrDefault(state.Block.GrantId);
            var expiry = polarCredit ? null : expiryOf.GetValueOrDefault(state.Block.GrantId);
            // A grant its revocation or expiry closed shows what that compensation recorded as unspent (what Polar showed then).
            var closing = state.Status switch
            {
                CreditBlockStatus.Revoked => revocation,
                CreditBlockStatus.Expired => expiry,
                _ => null,
            };
            var spent = closing is not null ? Math.Clamp(state.Block.Units - closing.Unspent - state.Revoked, 0, state.Block.Units) : state.Spent;
            var takenBack = revocation is null && expiry is null ? (decimal?)null : (revocation?.Units ?? 0) + (expiry?.Units ?? 0);
            entries.Add(new LedgerGrant(state.Block.GrantId, state.Block.Units, spent, state.Remaining, Status(state.Status),
                polarCredit ? "polar" : RecordedCompensation.Text(metadata, GrantMetadata.Source),
                polarCredit ? "Meter Credit benefit" : RecordedCompensation.Text(metadata, GrantMetadata.Reason),
                state.Block.GrantedAt, state.Block.ExpiresAt, state.ClosedAt, takenBack, (closing ?? revocation ?? expiry)?.CompensationGrantId,
                recorded.CustomerId, recorded.ExternalCustomerId, polarCredit)
            {
                CarryOver = state.Block.CarryOver,
                Carries = polarCredit ? null : RecordedCompensation.Text(metadata, GrantMetadata.Carries),
                Revoked = state.Revoked,
                ExpiryTakenBack = expiry?.Units,
                CarryOverUnits = carried.TryGetValue(state.Block.GrantId, out var units) ? units : null,
            });
        }

        // Grants this process made that the event store does not list yet.
        foreach (var made in recent.For(externalCustomerId, target.Meter.Name).Where(r => seen.Add(r.GrantId)))
        {
            entries.Add(new LedgerGrant(made.GrantId, made.Units, 0, made.Units, LedgerStatus.Pending, made.Source, made.Reason, made.At,
                null, null, null, null, null, externalCustomerId));
        }

        entries.Sort((a, b) => a.GrantedAt != b.GrantedAt ? a.GrantedAt.CompareTo(b.GrantedAt) : string.CompareOrdinal(a.GrantId, b.GrantId));

        // What the event store says the balance is, against what Polar's customer meter shows.
        var (fromEvents, usageSinceReset) = WindowBalance(standing, resets, usage.At(now), ours, now);
        var lags = fromEvents != (standing?.Balance ?? 0);
        var read = new LedgerRead(now, standing?.Balance, standing?.ConsumedUnits, standing?.CreditedUnits, usageSinceReset, fromEvents, lags, requests);
        var customerId = standing?.CustomerId ?? listed.Select(e => e.Customer?.Id).FirstOrDefault(id => id is not null);
        return new CustomerLedger(externalCustomerId, customerId, target.Meter.Name, meterId, entries, compensations, resets, read);
    }

    /// <summary>
    /// What the carry-over grants again of each carry-over grant a reset wiped, by grant id (0 when Polar's own rollover
    /// carried all it had unspent): <see cref="CreditAllocation.CarryOverAt"/> at each reset that wiped one whose re-grant is
    /// not listed (<paramref name="regranted"/>: the grants re-grants carry); only those are asked about, and each costs an allocation.
    /// </summary>
    private static Dictionary<string, decimal> CarryOverUnits(IReadOnlyList<CreditBlockState> states, List<CreditBlock> blocks,
        List<DateTimeOffset> resets, Func<DateTimeOffset, decimal> usageAt, HashSet<string> regranted)
    {
        var carried = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var reset in states.Where(s => s is { Block.CarryOver: true, Status: CreditBlockStatus.WipedByReset } && !regranted.Contains(s.Block.GrantId))
                     .Select(s => s.ClosedAt!.Value).Distinct())
        {
            foreach (var share in CreditAllocation.CarryOverAt(blocks, resets, usageAt, reset).Carried)
            {
                carried[share.Block.GrantId] = share.Units;
            }
        }

        return carried;
    }

    /// <summary>
    /// What a carry-over at the resets needs (<see cref="CarryOverRead"/>): the meter, the blocks (our grants with their
    /// <see cref="GrantMetadata.CarryOver"/> flag, Polar's credits with their <c>rollover</c> flag), the resets with their event
    /// ids, and the usage, exact at every reset from the last one before the first carry-over grant on (the part of the
    /// reset's hour before it read from the usage events: ⌈those events/100⌉ requests each, at least one), and
    /// <see cref="CarryOverRead.Shortfall"/> from the customer meter when the meter was reset. Polar requests:
    /// 1 + ⌈entries/100⌉ + 1 + those of the resets + 1. Throws <see cref="MeterNotGrantableException"/>, <see cref="PolarException"/>.
    /// </summary>
    public async Task<CarryOverRead> ReadForCarryOverAsync(string externalCustomerId, string meterName, CancellationToken cancellationToken = default)
    {
        var (target, listing, usage, now, requests) = await ReadBlocksAsync(externalCustomerId, meterName, forCarryOver: true, cancellationToken)
            .ConfigureAwait(false);
        var expires = new Dictionary<string, DateTimeOffset?>(StringComparer.Ordinal);
        foreach (var grant in listing.Grants)
        {
            expires[RecordedCompensation.Text(grant.Metadata!, GrantMetadata.GrantId)!] = ExpiresAt(grant.Metadata!);
        }

        // Polar's balance below what the events give by timestamps, after a reset: usage dated before it but sent after it
        // (Polar counts it in the new window, the carry-over before the reset), or the balance's lag of seconds.
        decimal shortfall = 0;
        if (listing.Resets.Count > 0)
        {
            var standing = await polar.GetCustomerMeterAsync(externalCustomerId, target.Meter.Id, cancellationToken).ConfigureAwait(false);
            requests++;
            var (fromEvents, _) = WindowBalance(standing, [.. listing.Resets.Select(r => r.Timestamp)], usage.At(now), listing.Ours, now);
            shortfall = Math.Max(0, fromEvents - (standing?.Balance ?? 0));
        }

        return new CarryOverRead(externalCustomerId, target.Meter.Name, listing.Blocks,
            [.. listing.Resets.Select(r => new ResetEvent(r.Id, r.Timestamp))], usage.At(now), now, requests, expires) { Shortfall = shortfall };
    }

    private async Task<(GrantTarget Target, Listing Listing, Usage Usage, DateTimeOffset Now, int Requests)> ReadBlocksAsync(
        string externalCustomerId, string meterName, bool forCarryOver, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(externalCustomerId);
        var target = await polar.GetGrantTargetAsync(meterName, cancellationToken).ConfigureAwait(false);
        var meterId = target.Meter.Id;
        var requests = 0;
        // 1. Our events, resets and Polar's credits on this meter, oldest first.
        var filter = new MeterFilter("or",
        [
            new MeterFilter("and", [Clause("source", "user"), Clause("name", target.EventName), Clause(GrantMetadata.Meter, target.Meter.Name)]),
            new MeterFilter("and", [Clause("source", "system"), Clause("name", ResetEvent), Clause("meter_id", meterId.ToString())]),
            new MeterFilter("and", [Clause("source", "system"), Clause("name", CreditedEvent), Clause("meter_id", meterId.ToString())]),
        ]);
        var listed = new List<RecordedEvent>();
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await polar.ListEventsAsync(new EventListQuery(Source: null, Sorting: "timestamp", Page: page, Limit: PageSize)
            {
                ExternalCustomerId = externalCustomerId,
                Filter = filter,
            }, cancellationToken).ConfigureAwait(false);
            requests++;
            listed.AddRange(result.Items);
            if (result.Items.Count == 0 || page >= result.Pagination.MaxPage)
            {
                break;
            }
        }

        var listingNow = time.GetUtcNow();
        var grants = new List<RecordedEvent>();
        var compensations = new List<RecordedCompensation>();
        var resets = new List<RecordedEvent>();
        var credits = new List<RecordedEvent>();
        var ours = new List<(DateTimeOffset At, decimal Value)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var recorded in listed)
        {
            var metadata = recorded.Metadata ?? new Dictionary<string, JsonElement>();
            if (recorded.Source == "system")
            {
                if (recorded.Name == ResetEvent)
                {
                    resets.Add(recorded);
                }
                else if (recorded.Name == CreditedEvent && RecordedCompensation.Number(metadata, "units") > 0)
                {
                    credits.Add(recorded);
                }

                continue;
            }

            if (RecordedCompensation.Number(metadata, target.Property) is not { } value
                || RecordedCompensation.Text(metadata, GrantMetadata.GrantId) is not { } grantId)
            {
                continue;
            }

            ours.Add((recorded.Timestamp, value));
            if (RecordedCompensation.From(recorded, target.Property) is { } compensation)
            {
                compensations.Add(compensation);
            }
            else if (value < 0 && seen.Add(grantId))
            {
                grants.Add(recorded);
            }
        }

        // 2. Usage: the meter's hourly quantities net of our own events (one request), from the hour of the first block.
        var starts = grants.Select(g => g.Timestamp).Concat(credits.Select(c => c.Timestamp)).ToList();
        var usage = Usage.None;
        if (starts.Count > 0)
        {
            var from = Hour(starts.Min());
            var quantities = await polar.GetMeterQuantitiesAsync(meterId, new MeterQuantitiesQuery(from, listingNow, "hour", externalCustomerId),
                cancellationToken).ConfigureAwait(false);
            requests++;
            usage = Usage.From(from, quantities.Quantities, ours);
            var firstCarryOver = grants.Where(g => IsCarryOver(g.Metadata!)).Select(g => (DateTimeOffset?)g.Timestamp).Min();
            var hourly = usage.At(listingNow);
            var listedResets = resets.Select(r => r.Timestamp).Where(r => r > from && r <= listingNow).Distinct().Order().ToList();
            // Carry-over: every reset from the last one before the first carry-over grant on, as re-grants were computed.
            IEnumerable<DateTimeOffset> exact = [];
            if (firstCarryOver is { } first)
            {
                var before = resets.Select(r => r.Timestamp).Where(r => r <= first).DefaultIfEmpty(DateTimeOffset.MinValue).Max();
                exact = listedResets.Where(r => r >= before);
            }

            if (!forCarryOver && listedResets.Count > 0)
            {
                // A ledger: those (so it shows what the carry-over computed), and the latest reset's hour: every open block was
                // granted at or after the latest reset (it wiped the others), and a carry-over re-grant or Polar's new credits
                // dated at it would otherwise be charged the hour's usage from before it. Only hours that had usage are read.
                exact = exact.Concat(listedResets.Where(r => r >= Hour(listedResets[^1]))).Distinct()
                    .Where(r => hourly(Hour(r).AddHours(1)) != hourly(Hour(r))).ToList();
            }

            // Polar's quantities count whole hours (date_trunc buckets, no bound inside one), so the part of a reset's hour
            // before the reset is read from the events themselves: the meter's user events of the customer, from the hour's
            // start to the reset (the filter's timestamps are whole seconds; the exact bound is applied here). One read serves
            // every reset of an hour.
            foreach (var resetsOfHour in exact.GroupBy(Hour))
            {
                var hour = resetsOfHour.Key;
                var (events, pages) = await UsageEventsAsync(target, externalCustomerId, hour, resetsOfHour.Max(), cancellationToken).ConfigureAwait(false);
                requests += pages;
                foreach (var reset in resetsOfHour)
                {
                    usage.SetExact(reset, hourly(hour) + events.Where(e => e.At < reset).Sum(e => e.Value)
                        - ours.Where(o => o.At >= hour && o.At < reset).Sum(o => o.Value));
                }
            }
        }

        var blocks = new List<CreditBlock>();
        var revocationOf = new Dictionary<string, RecordedCompensation>(StringComparer.Ordinal);
        var expiryOf = new Dictionary<string, RecordedCompensation>(StringComparer.Ordinal);
        foreach (var compensation in compensations)
        {
            (compensation.Kind == CompensationKind.Revoked ? revocationOf : expiryOf).TryAdd(compensation.Compensates, compensation);
        }

        foreach (var grant in grants)
        {
            var metadata = grant.Metadata!;
            var grantId = RecordedCompensation.Text(metadata, GrantMetadata.GrantId)!;
            var revocation = revocationOf.GetValueOrDefault(grantId);
            var expires = ExpiresAt(metadata) is { } at ? CreditAllocation.EffectiveExpiry(at) : (DateTimeOffset?)null;
            if (expiryOf.GetValueOrDefault(grantId) is { } expiry)
            {
                expires = expiry.Timestamp;
            }

            blocks.Add(Revoked(new CreditBlock(grantId, -RecordedCompensation.Number(metadata, target.Property)!.Value, grant.Timestamp, expires)
            {
                CarryOver = IsCarryOver(metadata),
            }, revocation));
        }

        MoveLateRevocations(grants, blocks, revocationOf, [.. resets.Select(r => r.Timestamp)]);
        foreach (var credit in credits)
        {
            blocks.Add(new CreditBlock("polar:" + credit.Id, RecordedCompensation.Number(credit.Metadata!, "units")!.Value, credit.Timestamp)
            {
                PolarRollover = credit.Metadata!.TryGetValue("rollover", out var rollover) && rollover.ValueKind == JsonValueKind.True,
            });
        }

        return (target, new Listing(listed, grants, compensations, resets, credits, ours, seen, blocks, revocationOf, expiryOf), usage, listingNow, requests);
    }


    /// <summary>
    /// The balance the events give for the window since the latest reset, by timestamps (Polar's credited units less the
    /// usage and our events since the reset), and the usage since the reset.
    /// </summary>
    private static (decimal Balance, decimal UsageSinceReset) WindowBalance(CustomerMeter? standing, IReadOnlyCollection<DateTimeOffset> resets,
        Func<DateTimeOffset, decimal> usageAt, List<(DateTimeOffset At, decimal Value)> ours, DateTimeOffset now)
    {
        var lastReset = resets.Where(r => r <= now).DefaultIfEmpty(DateTimeOffset.MinValue).Max();
        var usageSinceReset = usageAt(now) - (lastReset == DateTimeOffset.MinValue ? 0 : usageAt(lastReset));
        // Polar counts from the latest reset's ingestion: our events dated at the reset (carry-over re-grants) came after it.
        var oursSinceReset = ours.Where(o => o.At >= lastReset).Sum(o => o.Value);
        // A customer meter Polar has not made yet stands at 0.
        return ((standing?.CreditedUnits ?? 0) - (usageSinceReset + oursSinceReset), usageSinceReset);
    }

    /// <summary>
    /// A revocation of a carry-over grant dated after a reset that wiped the grant (sent before the reset was listed) lands in
    /// Polar's window after the reset, where the grant's carry-over re-grant holds its units: it is that re-grant's revocation
    /// (what it takes beyond the re-grant, units Polar's own rollover carried, is charged to Polar's rollover credit:
    /// <see cref="CreditAllocation.Allocate"/>), not the wiped grant's. Without a re-grant, it stays the wiped grant's, and
    /// all it took is charged to the credits open when it landed.
    /// </summary>
    private static void MoveLateRevocations(List<RecordedEvent> grants, List<CreditBlock> blocks, Dictionary<string, RecordedCompensation> revocationOf,
        List<DateTimeOffset> resets)
    {
        var successor = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < grants.Count; i++)
        {
            if (RecordedCompensation.Text(grants[i].Metadata!, GrantMetadata.Carries) is { } carried)
            {
                successor.TryAdd(carried, i);
            }
        }

        for (var i = 0; i < grants.Count; i++)
        {
            var block = blocks[i];
            if (!block.CarryOver || revocationOf.GetValueOrDefault(block.GrantId) is not { } revocation)
            {
                continue;
            }

            var at = revocation.Timestamp;
            var holder = i;
            var moves = 0;
            // Only to a re-grant dated before the revocation landed: one made for a window that had passed when it landed (a
            // later reset came first) is dated at that later reset, and the revocation took its units in the window between.
            while (resets.Any(r => r > blocks[holder].GrantedAt && r < at) && successor.TryGetValue(blocks[holder].GrantId, out var next)
                   && blocks[next].GrantedAt <= at && moves++ < grants.Count)
            {
                holder = next;
            }

            if (holder == i || revocationOf.ContainsKey(blocks[holder].GrantId))
            {
                continue;
            }

            blocks[holder] = Revoked(blocks[holder], revocation) with { UnspentWhenRevoked = null, RevokedAcrossReset = true };
            blocks[i] = block.WithoutRevocation();
            revocationOf[blocks[holder].GrantId] = revocation;
            revocationOf.Remove(block.GrantId);
        }
    }

    /// <summary>
    /// <paramref name="block"/> with <paramref name="revocation"/>'s moment (not before the block was granted) and units, partial
    /// when it took less than was unspent; the block itself without one.
    /// </summary>
    private static CreditBlock Revoked(CreditBlock block, RecordedCompensation? revocation) => revocation is null ? block : block with
    {
        RevokedAt = revocation.Timestamp > block.GrantedAt ? revocation.Timestamp : block.GrantedAt,
        RevokedUnits = revocation.Units,
        PartlyRevoked = revocation.Units < revocation.Unspent,
        UnspentWhenRevoked = revocation.Unspent,
    };

    private static DateTimeOffset? ExpiresAt(IReadOnlyDictionary<string, JsonElement> metadata) =>
        RecordedCompensation.Text(metadata, GrantMetadata.ExpiresAt) is { } text
        && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;

    private static bool IsCarryOver(IReadOnlyDictionary<string, JsonElement> metadata) =>
        metadata.TryGetValue(GrantMetadata.CarryOver, out var flag) && flag.ValueKind == JsonValueKind.True;

    private sealed record Listing(
        List<RecordedEvent> Listed,
        List<RecordedEvent> Grants,
        List<RecordedCompensation> Compensations,
        List<RecordedEvent> Resets,
        List<RecordedEvent> Credits,
        List<(DateTimeOffset At, decimal Value)> Ours,
        HashSet<string> Seen,
        List<CreditBlock> Blocks,
        Dictionary<string, RecordedCompensation> RevocationOf,
        Dictionary<string, RecordedCompensation> ExpiryOf);

    /// <summary>
    /// The meter's property of each of the customer's user events the meter counts with a timestamp in [start, end), with
    /// its timestamp (ours included: the caller takes them off), and the Polar requests it took (one per 100 events).
    /// </summary>
    private async Task<(List<(DateTimeOffset At, decimal Value)> Events, int Requests)> UsageEventsAsync(GrantTarget target, string externalCustomerId, DateTimeOffset start,
        DateTimeOffset end, CancellationToken cancellationToken)
    {
        var filter = new MeterFilter("and",
        [
            target.Meter.Filter,
            new MeterFilterClause("timestamp", "gte", JsonSerializer.SerializeToElement(start.ToUnixTimeSeconds(), PolarJsonContext.Default.Int64)),
            new MeterFilterClause("timestamp", "lte", JsonSerializer.SerializeToElement(end.ToUnixTimeSeconds() + 1, PolarJsonContext.Default.Int64)),
        ]);
        var (events, requests) = (new List<(DateTimeOffset At, decimal Value)>(), 0);
        for (var page = 1; page <= MaxPages; page++)
        {
            var result = await polar.ListEventsAsync(new EventListQuery(Source: "user", Sorting: "timestamp", Page: page, Limit: PageSize)
            {
                ExternalCustomerId = externalCustomerId,
                Filter = filter,
            }, cancellationToken).ConfigureAwait(false);
            requests++;
            events.AddRange(result.Items.Where(e => e.Timestamp >= start && e.Timestamp < end)
                .Select(e => (e.Timestamp, e.Metadata is { } metadata ? RecordedCompensation.Number(metadata, target.Property) ?? 0 : 0)));
            if (result.Items.Count == 0 || page >= result.Pagination.MaxPage)
            {
                break;
            }
        }

        return (events, requests);
    }

    private static MeterFilterClause Clause(string property, string value) =>
        new(property, "eq", PolarMetadata.Text(value));

    private static DateTimeOffset Hour(DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
    }

    private static LedgerStatus Status(CreditBlockStatus status) => status switch
    {
        CreditBlockStatus.Active => LedgerStatus.Active,
        CreditBlockStatus.PartlyUsed => LedgerStatus.PartlyUsed,
        CreditBlockStatus.Used => LedgerStatus.Used,
        CreditBlockStatus.Revoked => LedgerStatus.Revoked,
        CreditBlockStatus.Expired => LedgerStatus.Expired,
        _ => LedgerStatus.WipedByReset,
    };

    /// <summary>
    /// Cumulative usage from the hourly quantities: usage of an hour = its net quantity − our events in it. Usage at a moment
    /// inside an hour is the usage up to the start of that hour (the hour's usage counts after the moment), and at
    /// <c>now</c> all of it.
    /// </summary>
    private sealed class Usage(DateTimeOffset from, decimal[] cumulative)
    {
        private readonly Dictionary<DateTimeOffset, decimal> _exact = [];

        public static Usage None { get; } = new(DateTimeOffset.MinValue, [0]);

        public static Usage From(DateTimeOffset from, IReadOnlyList<MeterQuantity> quantities, List<(DateTimeOffset At, decimal Value)> ours)
        {
            var perHour = new decimal[quantities.Count];
            for (var i = 0; i < quantities.Count; i++)
            {
                // Polar sums in floating point: an hour of many usage events drifts in the last digits, below the grants' 6 decimal places.
                perHour[i] = Math.Round(quantities[i].Quantity, GrantValidator.MaxDecimalPlaces);
            }

            foreach (var (at, value) in ours)
            {
                var index = (int)Math.Floor((at - from).TotalHours);
                if (index >= 0 && index < perHour.Length)
                {
                    perHour[index] -= value;
                }
            }

            var cumulative = new decimal[perHour.Length + 1];
            for (var i = 0; i < perHour.Length; i++)
            {
                cumulative[i + 1] = cumulative[i] + perHour[i];
            }

            return new Usage(from, cumulative);
        }

        /// <summary>The usage from the start up to (not including) a moment, read exactly rather than by whole hours.</summary>
        public void SetExact(DateTimeOffset moment, decimal usage) => _exact[moment] = usage;

        public Func<DateTimeOffset, decimal> At(DateTimeOffset now) => moment =>
        {
            if (moment >= now)
            {
                return cumulative[^1];
            }

            if (_exact.TryGetValue(moment, out var exact))
            {
                return exact;
            }

            var hours = (moment - from).TotalHours;
            var hourly = hours <= 0 ? 0 : cumulative[Math.Min((int)Math.Floor(hours), cumulative.Length - 1)];
            // A moment after an exact one in the same hour: never less than it, or that usage would be allocated twice.
            var before = _exact.Where(e => e.Key < moment).OrderBy(e => e.Key).Select(e => (decimal?)e.Value).LastOrDefault();
            return before is { } floor ? Math.Max(hourly, floor) : hourly;
        };
    }
}

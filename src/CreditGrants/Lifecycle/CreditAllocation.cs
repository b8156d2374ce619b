namespace CreditGrants.Lifecycle;

/// <summary>
/// A grant seen as a credit block (docs/credit-lifecycle.md): <see cref="Units"/> granted at <see cref="GrantedAt"/>, open until
/// it expires (<see cref="ExpiresAt"/>, already rounded up to the hour it takes effect at: <see cref="CreditAllocation.EffectiveExpiry"/>)
/// or is revoked (<see cref="RevokedAt"/>; a partial revocation, <see cref="PartlyRevoked"/>, leaves it open with the rest), or a reset wipes it.
/// </summary>
public sealed record CreditBlock(string GrantId, decimal Units, DateTimeOffset GrantedAt, DateTimeOffset? ExpiresAt = null, DateTimeOffset? RevokedAt = null)
{
    /// <summary>
    /// Units its revocation (at <see cref="RevokedAt"/>) took back: a positive event in Polar's meter, so what it took beyond what
    /// the block had then (asked with a negative balance allowed, or sent for a block a reset wiped before the reset was listed)
    /// is charged to the credits open at that moment (<see cref="CreditAllocation.Allocate"/>). Null: everything the block had.
    /// </summary>
    public decimal? RevokedUnits { get; init; }

    /// <summary>
    /// Its revocation asked for fewer units than the block had unspent (a partial refund): it takes <see cref="RevokedUnits"/>
    /// and leaves the block open with the rest, which is spent, expires or is carried over like any other.
    /// </summary>
    public bool PartlyRevoked { get; init; }

    /// <summary>
    /// What the block had unspent when its revocation was made, as read then (the revocation's <c>grant_unspent</c>): usage
    /// known per whole hour reaches a moment inside an hour only at the hour's end, so the block is charged the difference
    /// at its revocation (and that much of the hour's usage is not charged again). Null when not known.
    /// </summary>
    public decimal? UnspentWhenRevoked { get; init; }

    /// <summary>
    /// Its revocation was made for units a reset wiped (sent before Polar's event store listed the reset): what it takes
    /// beyond the block is what Polar's own rollover carried of them, charged to Polar's rollover credit first. So is the
    /// revocation of a block a reset had wiped when it landed. Any other revocation's excess goes in the consumption order.
    /// </summary>
    public bool RevokedAcrossReset { get; init; }

    /// <summary>This block without its revocation (moved to the block that holds its units).</summary>
    public CreditBlock WithoutRevocation() => this with
    {
        RevokedAt = null,
        RevokedUnits = null,
        PartlyRevoked = false,
        UnspentWhenRevoked = null,
        RevokedAcrossReset = false,
    };

    /// <summary>One of our grants made with <c>carryOver</c>: what a reset wipes of it is granted again (<see cref="CreditAllocation.CarryOverAt"/>).</summary>
    public bool CarryOver { get; init; }

    /// <summary>Polar's own Meter Credit units credited with <c>rollover</c>: they count towards what Polar itself carries at a reset.</summary>
    public bool PolarRollover { get; init; }
}

/// <summary>What a carry-over grant's block gets again at a reset: its <see cref="Unspent"/> units less the part Polar already carried.</summary>
/// <param name="Block">The carry-over block the reset wiped.</param>
/// <param name="Unspent">What it had unspent at the reset, by the allocation.</param>
/// <param name="Units">What to grant again (0 to <see cref="Unspent"/>): <see cref="Unspent"/> less its share of <see cref="ResetCarry.Excess"/>.</param>
public sealed record CarriedUnits(CreditBlock Block, decimal Unspent, decimal Units);

/// <summary>
/// What survives one reset (docs/credit-lifecycle.md, "Carry-over"): Polar's own rollover (<see cref="PolarCarried"/>, computed as
/// Polar does), the unspent units of Polar's rollover blocks by the model (<see cref="PolarRolloverUnspent"/>), what Polar carried
/// beyond them (<see cref="Excess"/>: our units, carried already), and our carry-over blocks' re-grants.
/// </summary>
public sealed record ResetCarry(DateTimeOffset At, decimal BalanceBefore, decimal PolarCarried, decimal PolarRolloverUnspent, decimal Excess,
    IReadOnlyList<CarriedUnits> Carried);

/// <summary>Where a block stands: its remaining units are derived from the usage, never stored.</summary>
public enum CreditBlockStatus
{
    /// <summary>Open, nothing spent.</summary>
    Active,
    /// <summary>Open, part spent.</summary>
    PartlyUsed,
    /// <summary>Open, nothing left: spent, or taken by revocations.</summary>
    Used,
    /// <summary>Taken back: frozen at what it had spent when revoked.</summary>
    Revoked,
    /// <summary>Expired: frozen at what it had spent at its expiry.</summary>
    Expired,
    /// <summary>A meter reset closed it: what it had not spent no longer counts.</summary>
    WipedByReset,
}

/// <summary>
/// A block after allocation: units spent by usage, units revocations took from it (<see cref="Revoked"/>), units left (0 once
/// closed), status, and when it closed.
/// </summary>
public sealed record CreditBlockState(CreditBlock Block, decimal Spent, decimal Remaining, CreditBlockStatus Status, DateTimeOffset? ClosedAt)
{
    /// <summary>
    /// Units revocations took from it: its own partial revocation (<see cref="CreditBlock.PartlyRevoked"/>), and what another
    /// block's revocation took beyond what that block had (<see cref="CreditBlock.RevokedUnits"/>); not what its closing took.
    /// </summary>
    public decimal Revoked { get; init; }

    /// <summary>
    /// What its revocation took (at <see cref="CreditBlock.RevokedAt"/>) that no block open then held: charged to none, as
    /// overage is; Polar's balance is below what the blocks hold by it until the next reset.
    /// </summary>
    public decimal Unplaced { get; init; }

    /// <summary>
    /// What the block had unspent when it closed: what its closing revocation or its expiry took from it, or a reset wiped;
    /// 0 while open.
    /// </summary>
    public decimal Unspent => ClosedAt is null ? 0 : Block.Units - Spent - Revoked;
}

/// <summary>
/// The one rule by which usage spends credit blocks (docs/credit-lifecycle.md): soonest expiry first (no expiry last), then
/// oldest, then by grant id; usage is allocated as cumulative usage between the moments that open or close blocks, so
/// only the usage at those moments is needed; a block that closes is frozen; a reset wipes every open block; usage beyond
/// every open block is overage and charged to none. A revocation takes its units from its block (a partial one leaves the
/// block open with the rest); what it takes beyond its block is charged to the blocks open then (Polar's rollover credit
/// first when it was made across a reset), and what none holds is charged to none, as overage.
/// </summary>
public static class CreditAllocation
{
    /// <summary>When an expiry takes effect: usage is known per whole UTC hour, so an expiry inside an hour takes effect at its end.</summary>
    public static DateTimeOffset EffectiveExpiry(DateTimeOffset expiresAt)
    {
        var utc = expiresAt.ToUniversalTime();
        var hour = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
        return hour == utc ? hour : hour.AddHours(1);
    }

    /// <summary>
    /// What survives the reset at <paramref name="reset"/> (one of <paramref name="resets"/>), by the model of
    /// docs/credit-lifecycle.md ("Carry-over"): the blocks are allocated up to the reset; Polar's balance just before it is
    /// B = what the blocks granted since the previous reset had unspent at it − the overage since then − what revocations since
    /// then took that no block held (<see cref="CreditBlockState.Unplaced"/>); Polar itself carries
    /// C = ⌊max(0, min(B, P))⌋ where P is the units of its rollover credits since the previous reset; what Polar's rollover
    /// blocks had unspent (U) is theirs, and C − U beyond it (the excess) is units of ours that Polar carried already, taken
    /// off our carry-over blocks' re-grants in consumption order (soonest expiry, oldest, grant id). A carry-over block
    /// granted at the reset itself is not wiped by it, so re-grants carry again only at the next reset.
    /// </summary>
    /// <param name="blocks">Every block, our grants (<see cref="CreditBlock.CarryOver"/>) and Polar's (<see cref="CreditBlock.PolarRollover"/>).</param>
    /// <param name="resets">Every reset of the meter.</param>
    /// <param name="usageAt">Cumulative usage, as for <see cref="Allocate"/>; it must be exact at the resets (usage before the reset instant).</param>
    /// <param name="reset">The reset; must be one of <paramref name="resets"/>.</param>
    public static ResetCarry CarryOverAt(IReadOnlyList<CreditBlock> blocks, IReadOnlyCollection<DateTimeOffset> resets,
        Func<DateTimeOffset, decimal> usageAt, DateTimeOffset reset)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(resets);
        ArgumentNullException.ThrowIfNull(usageAt);
        if (!resets.Contains(reset))
        {
            throw new ArgumentException($"{reset:O} is not one of the resets given.", nameof(reset));
        }

        var states = Allocate(blocks, resets, usageAt, reset);
        var previous = resets.Where(r => r < reset).DefaultIfEmpty(DateTimeOffset.MinValue).Max();
        var window = states.Where(s => s.Block.GrantedAt >= previous && s.Block.GrantedAt < reset).ToList();
        var wiped = window.Where(s => s.Status == CreditBlockStatus.WipedByReset && s.ClosedAt == reset).ToList();
        var overage = Math.Max(0, usageAt(reset) - usageAt(previous) - window.Sum(s => s.Spent));
        // What revocations in the window took beyond every open block counts against Polar's balance as overage does.
        var owed = states.Where(s => s.Block.RevokedAt > previous && s.Block.RevokedAt <= reset).Sum(s => s.Unplaced);
        var balance = wiped.Sum(s => s.Unspent) - overage - owed;
        var rolloverCredits = window.Where(s => s.Block.PolarRollover).Sum(s => s.Block.Units);
        var polarCarried = Math.Floor(Math.Max(0, Math.Min(balance, rolloverCredits)));
        var polarUnspent = wiped.Where(s => s.Block.PolarRollover).Sum(s => s.Unspent);
        var excess = Math.Max(0, polarCarried - polarUnspent);
        var left = excess;
        var carried = new List<CarriedUnits>();
        foreach (var state in wiped.Where(s => s.Block.CarryOver).OrderBy(s => s.Block.ExpiresAt ?? DateTimeOffset.MaxValue)
                     .ThenBy(s => s.Block.GrantedAt).ThenBy(s => s.Block.GrantId, StringComparer.Ordinal))
        {
            var taken = Math.Min(left, state.Unspent);
            left -= taken;
            carried.Add(new CarriedUnits(state.Block, state.Unspent, state.Unspent - taken));
        }

        return new ResetCarry(reset, balance, polarCarried, polarUnspent, excess, carried);
    }

    /// <summary>
    /// Every re-grant the resets up to <paramref name="now"/> call for, reset by reset in time order: the re-grants of one
    /// reset are blocks (<see cref="CreditBlock.CarryOver"/>, granted at the reset, the original's expiry) that the next reset
    /// wipes and carries again. A re-grant whose id (<paramref name="regrantId"/> of the block carried and the reset) is among
    /// <paramref name="blocks"/> already (made before) is not made again: the one made stands, whatever its units.
    /// </summary>
    /// <returns>The re-grants not among <paramref name="blocks"/>, each with the block it carries, in time order.</returns>
    public static IReadOnlyList<(CreditBlock Regrant, CreditBlock Carries)> CarryOvers(IReadOnlyList<CreditBlock> blocks,
        IReadOnlyCollection<DateTimeOffset> resets, Func<DateTimeOffset, decimal> usageAt, DateTimeOffset now,
        Func<CreditBlock, DateTimeOffset, string> regrantId)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(resets);
        ArgumentNullException.ThrowIfNull(regrantId);
        var all = blocks.ToList();
        var ids = all.Select(b => b.GrantId).ToHashSet(StringComparer.Ordinal);
        var made = new List<(CreditBlock, CreditBlock)>();
        var past = resets.Where(r => r <= now).Distinct().Order().ToList();
        var latest = past.Count == 0 ? DateTimeOffset.MinValue : past[^1];
        foreach (var reset in past)
        {
            foreach (var carried in CarryOverAt(all, resets, usageAt, reset).Carried.Where(c => c.Units > 0))
            {
                // A block revoked after the reset wiped it (the revocation was sent before the reset was listed): the revocation
                // landed in a later window. In a window that has passed, it took its units there (from the credits then open)
                // and only what a partial one left is carried; in the latest, the re-grant is made to meet it and the
                // revocation takes from it.
                var revokedAfter = carried.Block.RevokedAt is { } revokedAt && revokedAt > reset ? revokedAt : (DateTimeOffset?)null;
                var units = carried.Units;
                if (revokedAfter < latest)
                {
                    // A partial one took only its units there: the rest is carried as if it had not been made.
                    if (!carried.Block.PartlyRevoked)
                    {
                        continue;
                    }

                    units = Math.Max(0, units - (carried.Block.RevokedUnits ?? units));
                    revokedAfter = null;
                    if (units == 0)
                    {
                        continue;
                    }
                }

                var id = regrantId(carried.Block, reset);
                if (ids.Add(id))
                {
                    // A re-grant not made yet for an earlier reset is made now, in the latest reset's window (Polar counts a
                    // balance from the latest reset's ingestion): dated at that reset, no usage between the resets spent it.
                    var regrant = new CreditBlock(id, units, latest, carried.Block.ExpiresAt)
                    {
                        CarryOver = true,
                        RevokedAt = revokedAfter,
                        RevokedUnits = revokedAfter is null ? null : carried.Block.RevokedUnits,
                        PartlyRevoked = revokedAfter is not null && carried.Block.PartlyRevoked,
                        RevokedAcrossReset = revokedAfter is not null,
                    };
                    if (revokedAfter is not null)
                    {
                        // The revocation is the re-grant's now: the wiped block's would take its units a second time.
                        all[all.IndexOf(carried.Block)] = carried.Block.WithoutRevocation();
                    }

                    all.Add(regrant);
                    made.Add((regrant, carried.Block));
                }
            }
        }

        return made;
    }

    /// <summary>
    /// Allocates usage over the blocks up to <paramref name="now"/>.
    /// </summary>
    /// <param name="blocks">The grants, in any order; units greater than 0.</param>
    /// <param name="resets">When the meter was reset (<c>meter.reset</c>), in any order.</param>
    /// <param name="usageAt">Cumulative usage (units) at a moment, from any fixed origin; only differences are used, and a
    /// decrease (a correction) is allocated to no block.</param>
    /// <param name="now">Moments after it are not reached: blocks that expire later are still open.</param>
    /// <returns>One state per block, in the order given.</returns>
    public static IReadOnlyList<CreditBlockState> Allocate(IReadOnlyList<CreditBlock> blocks, IReadOnlyCollection<DateTimeOffset> resets,
        Func<DateTimeOffset, decimal> usageAt, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(resets);
        ArgumentNullException.ThrowIfNull(usageAt);
        var spent = new decimal[blocks.Count];
        var revoked = new decimal[blocks.Count];
        var closed = new (CreditBlockStatus Status, DateTimeOffset At)?[blocks.Count];
        var moments = blocks.SelectMany(b => new[] { b.GrantedAt, b.ExpiresAt, b.RevokedAt })
            .Concat(resets.Select(r => (DateTimeOffset?)r))
            .Append(now)
            .OfType<DateTimeOffset>()
            .Where(m => m <= now)
            .Distinct()
            .Order()
            .ToList();
        var order = Enumerable.Range(0, blocks.Count)
            .OrderBy(i => blocks[i].ExpiresAt ?? DateTimeOffset.MaxValue)
            .ThenBy(i => blocks[i].GrantedAt)
            .ThenBy(i => blocks[i].GrantId, StringComparer.Ordinal)
            .ToArray();
        // What a revocation made across a reset takes beyond its own block: Polar's rollover credit first (the units of ours
        // Polar's own rollover carried sit there), then the other credits in the consumption order.
        var rolloverFirst = order.Where(i => blocks[i].PolarRollover).Concat(order.Where(i => !blocks[i].PolarRollover)).ToArray();
        var acrossReset = new bool[blocks.Count];
        var unplaced = new decimal[blocks.Count];
        // Usage of the current hour charged at a revocation already (UnspentWhenRevoked), not to be charged again.
        var prepaid = 0m;
        decimal Left(int i) => blocks[i].Units - spent[i] - revoked[i];

        // A block's revocation takes from it: a partial one what it asked (the block stays open), any other all it has (and
        // closes it); what it asked beyond that is returned, to be charged to the other blocks.
        decimal TakeOwn(int i, DateTimeOffset moment)
        {
            var block = blocks[i];
            acrossReset[i] = block.RevokedAcrossReset || closed[i] is not null;
            if (closed[i] is not null)
            {
                return block.RevokedUnits ?? 0;
            }

            if (block.UnspentWhenRevoked is { } read && read >= 0 && Left(i) - read is var seen && seen > 0)
            {
                // The hour's usage up to the revocation, which the revocation saw and hourly usage does not show yet.
                prepaid += seen;
                spent[i] += seen;
            }

            var had = Left(i);
            if (block is { PartlyRevoked: true, RevokedUnits: { } units } && units < had)
            {
                revoked[i] += units;
                return 0;
            }

            closed[i] = (CreditBlockStatus.Revoked, moment);
            return Math.Max(0, (block.RevokedUnits ?? had) - had);
        }

        // Charges what block except's revocation took beyond it to the blocks open at the moment; returns what none held.
        decimal Charge(decimal units, DateTimeOffset moment, int except)
        {
            foreach (var j in acrossReset[except] ? rolloverFirst : order)
            {
                if (units == 0)
                {
                    break;
                }

                if (j != except && closed[j] is null && blocks[j].GrantedAt <= moment)
                {
                    var take = Math.Min(units, Left(j));
                    revoked[j] += take;
                    units -= take;
                }
            }

            return units;
        }

        DateTimeOffset? previous = null;
        var previousUsage = 0m;
        foreach (var moment in moments)
        {
            var usage = usageAt(moment);
            if (previous is { } from)
            {
                // Usage of (previous, moment] goes to the blocks open over that interval, in the stated order (less what a
                // revocation charged of it already).
                var left = Math.Max(0, usage - previousUsage);
                var charged = Math.Min(prepaid, left);
                (left, prepaid) = (left - charged, prepaid - charged);
                foreach (var i in order)
                {
                    if (left == 0)
                    {
                        break;
                    }

                    if (closed[i] is null && blocks[i].GrantedAt <= from)
                    {
                        var take = Math.Min(left, Left(i));
                        spent[i] += take;
                        left -= take;
                    }
                }
            }

            // Then what happens at the moment: revocations first (each takes from its own block, then what they took beyond
            // their blocks is charged to the others, whatever the order the blocks were given in), then expiries and resets
            // close the blocks open at it.
            var revoking = order.Where(i => blocks[i].RevokedAt == moment && blocks[i].GrantedAt <= moment).ToList();
            var excess = revoking.ToDictionary(i => i, i => TakeOwn(i, moment));
            foreach (var i in revoking)
            {
                // What no open block held is charged to none, as overage is: a revocation stays the undoing of its grant,
                // and Polar's balance is below the blocks by it until the next reset (CarryOverAt counts it there).
                unplaced[i] = Charge(excess[i], moment, except: i);
            }

            if (resets.Contains(moment))
            {
                prepaid = 0;
            }

            for (var i = 0; i < blocks.Count; i++)
            {
                var block = blocks[i];
                if (closed[i] is not null || block.GrantedAt > moment)
                {
                    continue;
                }

                if (block.ExpiresAt == moment)
                {
                    closed[i] = (CreditBlockStatus.Expired, moment);
                }
                else if (resets.Contains(moment) && block.GrantedAt < moment)
                {
                    closed[i] = (CreditBlockStatus.WipedByReset, moment);
                }
            }

            previous = moment;
            previousUsage = usage;
        }

        return blocks.Select((block, i) => closed[i] is { } end
                ? new CreditBlockState(block, spent[i], 0, end.Status, end.At) { Revoked = revoked[i], Unplaced = unplaced[i] }
                : new CreditBlockState(block, spent[i], Left(i),
                    Left(i) == 0 ? CreditBlockStatus.Used : spent[i] == 0 ? CreditBlockStatus.Active : CreditBlockStatus.PartlyUsed, null)
                {
                    Revoked = revoked[i],
                    Unplaced = unplaced[i],
                })
            .ToArray();
    }
}

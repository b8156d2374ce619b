namespace CreditGrants.Lifecycle;

/// <summary>
/// A grant seen as a credit block (docs/credit-lifecycle.md): <see cref="Units"/> granted at <see cref="GrantedAt"/>, open until
/// it expires (<see cref="ExpiresAt"/>, already rounded up to the hour it takes effect at: <see cref="CreditAllocation.EffectiveExpiry"/>)
/// or is revoked (<see cref="RevokedAt"/>), or a reset wipes it.
/// </summary>
public sealed record CreditBlock(string GrantId, decimal Units, DateTimeOffset GrantedAt, DateTimeOffset? ExpiresAt = null, DateTimeOffset? RevokedAt = null);

/// <summary>Where a block stands: its remaining units are derived from the usage, never stored.</summary>
public enum CreditBlockStatus
{
    /// <summary>Open, nothing spent.</summary>
    Active,
    /// <summary>Open, part spent.</summary>
    PartlyUsed,
    /// <summary>Open or not, everything spent.</summary>
    Used,
    /// <summary>Taken back: frozen at what it had spent when revoked.</summary>
    Revoked,
    /// <summary>Expired: frozen at what it had spent at its expiry.</summary>
    Expired,
    /// <summary>A meter reset closed it: what it had not spent no longer counts.</summary>
    WipedByReset,
}

/// <summary>A block after allocation: units spent and left (0 once closed), status, and when it closed.</summary>
public sealed record CreditBlockState(CreditBlock Block, decimal Spent, decimal Remaining, CreditBlockStatus Status, DateTimeOffset? ClosedAt)
{
    /// <summary>What was unspent when the block closed (what its revocation or expiry took back, or a reset wiped); 0 while open.</summary>
    public decimal Unspent => ClosedAt is null ? 0 : Block.Units - Spent;
}

/// <summary>
/// The one rule by which usage spends credit blocks (docs/credit-lifecycle.md): soonest expiry first (no expiry last), then
/// oldest, then by grant id; usage is allocated as cumulative usage between the moments that open or close blocks, so
/// only the usage at those moments is needed; a block that closes is frozen; a reset wipes every open block; usage beyond
/// every open block is overage and charged to none.
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

        DateTimeOffset? previous = null;
        var previousUsage = 0m;
        foreach (var moment in moments)
        {
            var usage = usageAt(moment);
            if (previous is { } from)
            {
                // Usage of (previous, moment] goes to the blocks open over that interval, in the stated order.
                var left = Math.Max(0, usage - previousUsage);
                foreach (var i in order)
                {
                    if (left == 0)
                    {
                        break;
                    }

                    if (closed[i] is null && blocks[i].GrantedAt <= from)
                    {
                        var take = Math.Min(left, blocks[i].Units - spent[i]);
                        spent[i] += take;
                        left -= take;
                    }
                }
            }

            // Then what happens at the moment: revocations, expiries and resets close the blocks open at it.
            for (var i = 0; i < blocks.Count; i++)
            {
                var block = blocks[i];
                if (closed[i] is not null || block.GrantedAt > moment)
                {
                    continue;
                }

                if (block.RevokedAt == moment)
                {
                    closed[i] = (CreditBlockStatus.Revoked, moment);
                }
                else if (block.ExpiresAt == moment)
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
                ? new CreditBlockState(block, spent[i], 0, end.Status, end.At)
                : new CreditBlockState(block, spent[i], block.Units - spent[i],
                    spent[i] == 0 ? CreditBlockStatus.Active : spent[i] == block.Units ? CreditBlockStatus.Used : CreditBlockStatus.PartlyUsed, null))
            .ToArray();
    }
}

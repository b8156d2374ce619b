using CreditGrants.Lifecycle;
using CsCheck;

namespace CreditGrants.Tests.Lifecycle;

/// <summary>
/// Carry-over and Polar's own rollover in the model (docs/credit-lifecycle.md, "Carry-over"): on generated interleavings of
/// our grants (some carry-over), Polar's credits (some rollover), usage, revocations, expiries and resets, plus the worked
/// example of the docs.
/// </summary>
public sealed class CarryOverAllocationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(int hours) => T0.AddHours(hours);

    private static string RegrantId(CreditBlock block, DateTimeOffset reset) => $"co({block.GrantId}@{(reset - T0).TotalHours})";

    private sealed record History(CreditBlock[] Blocks, (int Hour, int Units)[] Usage, int[] Resets, int Now)
    {
        public decimal UsageAt(DateTimeOffset moment) => Usage.Where(u => At(u.Hour) < moment).Sum(u => (decimal)u.Units);

        public DateTimeOffset[] ResetTimes => [.. Resets.Select(At)];

        public IReadOnlyList<(CreditBlock Regrant, CreditBlock Carries)> CarryOvers(IReadOnlyList<CreditBlock>? blocks = null) =>
            CreditAllocation.CarryOvers(blocks ?? Blocks, ResetTimes, UsageAt, At(Now), RegrantId);

        /// <summary>The blocks with the re-grants made, as the ledger reads them back after they were ingested.</summary>
        public CreditBlock[] WithRegrants() => [.. Blocks, .. CarryOvers().Select(c => c.Regrant)];

        public override string ToString() =>
            $"blocks [{string.Join("; ", Blocks.Select(b => $"{b.GrantId} {b.Units} @{(b.GrantedAt - T0).TotalHours} exp {(b.ExpiresAt - T0)?.TotalHours} rev {(b.RevokedAt - T0)?.TotalHours} co {b.CarryOver} pr {b.PolarRollover}"))}] " +
            $"usage [{string.Join(", ", Usage.Select(u => $"{u.Units}@{u.Hour}"))}] resets [{string.Join(", ", Resets)}] now {Now}";
    }

    /// <summary>
    /// Kind 0: a plain grant; 1: a carry-over grant; 2: a Polar credit; 3: a Polar rollover credit (Polar's never expire nor
    /// are revoked). A revocation takes everything, or given units (partly, leaving the rest open, or more than is left).
    /// </summary>
    private static readonly Gen<CreditBlock> Block =
        Gen.Select(Gen.Int[1, 100], Gen.Int[0, 60], Gen.Int[1, 60].Nullable(), Gen.Int[1, 60].Nullable(), Gen.Int[0, 3], Gen.Int[0, 9999],
                Gen.Int[1, 120].Nullable())
            .Select((units, granted, expiresAfter, revokedAfter, kind, id, revokedUnits) => new CreditBlock($"g{id:D4}", units, At(granted),
                kind < 2 && expiresAfter is { } e ? At(granted + e) : null, kind < 2 && revokedAfter is { } r ? At(granted + r) : null)
            {
                CarryOver = kind == 1,
                PolarRollover = kind == 3,
                RevokedUnits = kind < 2 && revokedAfter is not null ? revokedUnits : null,
                PartlyRevoked = kind < 2 && revokedAfter is not null && revokedUnits < units,
            });

    private static readonly Gen<History> Histories =
        Gen.Select(Block.Array[0, 8], Gen.Select(Gen.Int[0, 120], Gen.Int[0, 60]).Array[0, 12], Gen.Int[1, 120].Array[0, 3], Gen.Int[0, 130])
            .Select((blocks, usage, resets, now) => new History(blocks.DistinctBy(b => b.GrantId).ToArray(), usage, resets.Distinct().ToArray(), now));

    [Fact]
    public void A_regrant_never_exceeds_what_its_block_had_unspent_and_our_carry_plus_polars_never_carries_a_unit_twice()
    {
        Histories.Sample(history =>
        {
            var blocks = history.WithRegrants();
            foreach (var reset in history.ResetTimes.Where(r => r <= At(history.Now)))
            {
                var carry = CreditAllocation.CarryOverAt(blocks, history.ResetTimes, history.UsageAt, reset);
                var ours = carry.Carried.Sum(c => c.Unspent);
                if (carry.Carried.Any(c => c.Units < 0 || c.Units > c.Unspent)
                    // What survives is at most what was unspent in the blocks that may survive, unless Polar itself carried more.
                    || carry.Carried.Sum(c => c.Units) + carry.PolarCarried > Math.Max(ours + carry.PolarRolloverUnspent, carry.PolarCarried)
                    || carry.PolarCarried > Math.Max(0, carry.BalanceBefore))
                {
                    return false;
                }

                // Polar carrying no more than its own rollover blocks had unspent takes nothing off our re-grants.
                if (carry.PolarCarried <= carry.PolarRolloverUnspent && carry.Carried.Any(c => c.Units != c.Unspent))
                {
                    return false;
                }
            }

            return true;
        }, iter: 3000);
    }

    [Fact]
    public void Carrying_over_again_with_the_regrants_made_makes_nothing_new_whatever_the_block_order()
    {
        Histories.Sample(history =>
        {
            var made = history.WithRegrants();
            var shuffled = made.Reverse().ToArray();
            return history.CarryOvers(made).Count == 0 && history.CarryOvers(shuffled).Count == 0;
        }, iter: 2000);
    }

    [Fact]
    public void Each_carry_over_block_is_carried_at_most_once_per_reset_and_only_at_resets_that_wiped_it()
    {
        Histories.Sample(history =>
        {
            var made = history.CarryOvers();
            return made.Select(m => (m.Carries.GrantId, m.Regrant.GrantedAt)).Distinct().Count() == made.Count
                && made.All(m => m.Carries.CarryOver && m.Regrant.CarryOver && m.Regrant.ExpiresAt == m.Carries.ExpiresAt
                    && m.Carries.GrantedAt < m.Regrant.GrantedAt && history.ResetTimes.Contains(m.Regrant.GrantedAt)
                    && m.Regrant.Units <= m.Carries.Units);
        }, iter: 2000);
    }

    [Fact]
    public void A_block_revoked_after_the_reset_that_wiped_it_is_regranted_closed_in_the_latest_window_and_not_at_all_in_a_passed_one()
    {
        // Revoked at hour 12, after the reset at 10 wiped it (the revocation landed in the window after it).
        CreditBlock[] blocks = [new("promo", 100, At(0), RevokedAt: At(12)) { CarryOver = true }];

        var latest = Assert.Single(CreditAllocation.CarryOvers(blocks, [At(10)], _ => 0, At(30), RegrantId));
        var passed = CreditAllocation.CarryOvers(blocks, [At(10), At(20)], _ => 0, At(30), RegrantId);

        // Made to meet the revocation in its window, which takes it back when it landed: nothing of it is carried again.
        Assert.Equal(("co(promo@10)", 100m, At(10), At(12)), (latest.Regrant.GrantId, latest.Regrant.Units, latest.Regrant.GrantedAt, latest.Regrant.RevokedAt));
        CreditBlock[] readBack = [blocks[0] with { RevokedAt = null }, latest.Regrant];
        Assert.Equal(CreditBlockStatus.Revoked, CreditAllocation.Allocate(readBack, [At(10)], _ => 0, At(30))[1].Status);
        // The revocation took its units in the window between the resets, which the second reset closed: nothing to carry.
        Assert.Empty(passed);
    }

    [Fact]
    public void A_regrant_made_at_its_reset_is_open_after_it_and_carries_again_at_the_next()
    {
        // The first reset's re-grant was made (Polar holds it): 40 of it is used before the second reset.
        CreditBlock[] blocks = [new("promo", 100, At(0)) { CarryOver = true }, new("co(promo@10)", 70, At(10)) { CarryOver = true }];

        var made = CreditAllocation.CarryOvers(blocks, [At(10), At(20)], m => m > At(15) ? 70 : m > At(5) ? 30 : 0, At(30), RegrantId);

        Assert.Equal([("co(co(promo@10)@20)", 30m, "co(promo@10)", At(20))],
            made.Select(m => (m.Regrant.GrantId, m.Regrant.Units, m.Carries.GrantId, m.Regrant.GrantedAt)));
    }

    [Fact]
    public void A_regrant_not_made_at_an_earlier_reset_is_made_in_the_latest_window_with_all_that_was_unspent()
    {
        // Nothing was carried at the first reset: the customer had no re-grant to spend between the resets.
        CreditBlock[] blocks = [new("promo", 100, At(0)) { CarryOver = true }];

        var made = CreditAllocation.CarryOvers(blocks, [At(10), At(20)], m => m > At(15) ? 70 : m > At(5) ? 30 : 0, At(30), RegrantId);

        Assert.Equal([("co(promo@10)", 70m, "promo", At(20))],
            made.Select(m => (m.Regrant.GrantId, m.Regrant.Units, m.Carries.GrantId, m.Regrant.GrantedAt)));
    }

    /// <summary>
    /// Polar credits rollover units at hour 0, we grant 50 carry-over units at hour 1 and 30 plain units at hour 2; usage
    /// before the reset at hour 10. Polar's block is the oldest, so it is spent first. The first row is the worked example
    /// of docs/credit-lifecycle.md ("Carry-over"): 10 used; Polar keeps min(90, 20) = 20, its own 10 unspent and 10 of ours,
    /// so the promo's re-grant is 50 - 10 = 40 (after the reset 20 + 40 = Polar's 10 + the promo's 50). The second: 120 used;
    /// Polar keeps min(60, 100) = 60, all of it ours (30 of the promo's, 30 of the plain grant's): nothing is granted again.
    /// </summary>
    [Theory]
    [InlineData(20, 10, 90, 20, 10, 10, 50, 40)]
    [InlineData(100, 120, 60, 60, 0, 60, 30, 0)]
    public void Polar_carrying_more_than_its_own_unspent_units_cuts_our_regrant_by_that_excess(int polarUnits, int used,
        int balance, int polarCarried, int polarUnspent, int excess, int unspent, int regrant)
    {
        CreditBlock[] blocks =
        [
            new("polar:credit", polarUnits, At(0)) { PolarRollover = true },
            new("promo", 50, At(1)) { CarryOver = true },
            new("plain", 30, At(2)),
        ];

        var carry = CreditAllocation.CarryOverAt(blocks, [At(10)], m => m > At(5) ? used : 0, At(10));

        Assert.Equal(((decimal)balance, (decimal)polarCarried, (decimal)polarUnspent, (decimal)excess),
            (carry.BalanceBefore, carry.PolarCarried, carry.PolarRolloverUnspent, carry.Excess));
        var promo = Assert.Single(carry.Carried);
        Assert.Equal(((decimal)unspent, (decimal)regrant), (promo.Unspent, promo.Units));
    }

    [Fact]
    public void Polar_carrying_only_its_own_unspent_units_leaves_our_regrant_whole()
    {
        CreditBlock[] blocks =
        [
            new("promo", 50, At(0), ExpiresAt: At(48)) { CarryOver = true },
            new("polar:credit", 100, At(1)) { PolarRollover = true },
        ];

        // 70 used: the expiring promo first (50), then 20 of Polar's; Polar keeps min(80, 100) = 80, all its own.
        var carry = CreditAllocation.CarryOverAt(blocks, [At(10)], m => m > At(5) ? 70 : 0, At(10));

        Assert.Equal((80m, 80m, 0m), (carry.PolarCarried, carry.PolarRolloverUnspent, carry.Excess));
        Assert.Equal(0m, Assert.Single(carry.Carried).Units);
    }

    [Fact]
    public void A_non_carry_over_grant_and_polars_credits_without_rollover_are_wiped_and_not_carried()
    {
        CreditBlock[] blocks = [new("plain", 40, At(0)), new("polar:credit", 100, At(1))];

        var carry = CreditAllocation.CarryOverAt(blocks, [At(10)], _ => 0, At(10));
        var states = CreditAllocation.Allocate(blocks, [At(10)], _ => 0, At(12));

        Assert.Empty(carry.Carried);
        Assert.Equal(0m, carry.PolarCarried);
        Assert.All(states, s => Assert.Equal(CreditBlockStatus.WipedByReset, s.Status));
    }

    /// <summary>
    /// Polar's rollover credit (50, oldest) is spent by 50 of usage before the reset at 10; "g" (100) and "h" (100) are
    /// carry-over grants. Polar keeps min(200, 50) = 50, all of it ours: g's re-grant is 50, h's 100. g is revoked at 11, the
    /// revocation sent before the reset was listed, taking g's 100: its re-grant's 50 and, beyond them, the 50 Polar's
    /// rollover carried of g's units. At the reset at 20 the customer has h's 100, of which Polar's rollover keeps 50: h's
    /// second re-grant is 50, not 100 (the defect this test was written for: 150 after the second reset instead of 100).
    /// </summary>
    [Fact]
    public void A_late_revocation_takes_what_polars_rollover_carried_of_its_grant_from_polars_rollover_credit()
    {
        CreditBlock[] window =
        [
            new("polar:credit", 50, At(0)) { PolarRollover = true },
            new("g", 100, At(1), RevokedAt: At(11)) { CarryOver = true, RevokedUnits = 100 },
            new("h", 100, At(2)) { CarryOver = true },
            new("polar:rollover@10", 50, At(10)) { PolarRollover = true },
        ];
        static decimal Usage(DateTimeOffset m) => m > At(5) ? 50 : 0;

        var first = CreditAllocation.CarryOvers(window, [At(10)], Usage, At(15), RegrantId);
        // As the ledger reads them back: g's revocation is its re-grant's (LedgerReader moves it there).
        CreditBlock[] made = [.. window.Select(b => b.GrantId == "g" ? b with { RevokedAt = null, RevokedUnits = null } : b), .. first.Select(f => f.Regrant)];
        var second = CreditAllocation.CarryOvers(made, [At(10), At(20)], Usage, At(25), RegrantId);
        var states = CreditAllocation.Allocate(made, [At(10), At(20)], Usage, At(15));

        Assert.Equal([("co(g@10)", 50m), ("co(h@10)", 100m)], first.Select(f => (f.Regrant.GrantId, f.Regrant.Units)));
        Assert.Equal(100m, states.Where(s => s.ClosedAt is null).Sum(s => s.Remaining));
        // The 50 beyond g's re-grant come out of Polar's rollover credit, not out of h's re-grant.
        Assert.Equal((50m, 0m), (states[3].Revoked, states[3].Remaining));
        Assert.Equal((0m, 100m), (states[5].Revoked, states[5].Remaining));
        Assert.Equal([("co(co(h@10)@20)", 50m)], second.Select(f => (f.Regrant.GrantId, f.Regrant.Units)));
    }

    [Fact]
    public void A_partly_revoked_carry_over_grant_carries_the_rest()
    {
        // 100 granted, 20 used, 30 taken back at hour 5 (a partial refund): the reset at 10 wipes 50, granted again.
        CreditBlock[] blocks = [new("promo", 100, At(0), RevokedAt: At(5)) { CarryOver = true, RevokedUnits = 30, PartlyRevoked = true }];

        var made = Assert.Single(CreditAllocation.CarryOvers(blocks, [At(10)], m => m > At(2) ? 20 : 0, At(12), RegrantId));

        Assert.Equal(("co(promo@10)", 50m, (DateTimeOffset?)null), (made.Regrant.GrantId, made.Regrant.Units, made.Regrant.RevokedAt));
    }

    /// <summary>
    /// "c" (10) is revoked with 30 units (a negative balance allowed) at 5, when nothing else is open: 20 no block holds,
    /// charged to none as overage is (revoking a grant undoes it, whatever came before). Then h (carry-over) and Polar's
    /// rollover credit (40) at 6; the reset at 10. Polar's balance there is h + 40 - 20, and its rollover is computed from
    /// that: with h at 10, it keeps 30, not 40.
    /// </summary>
    [Theory]
    [InlineData(50, 70, 40)]
    [InlineData(10, 30, 30)]
    public void What_a_revocation_takes_beyond_every_open_block_lowers_polars_balance_at_the_reset_as_overage_does(int h, int balance,
        int polarCarried)
    {
        CreditBlock[] blocks =
        [
            new("c", 10, At(0), RevokedAt: At(5)) { RevokedUnits = 30 },
            new("h", h, At(6)) { CarryOver = true },
            new("polar:credit", 40, At(6)) { PolarRollover = true },
        ];

        var carry = CreditAllocation.CarryOverAt(blocks, [At(10)], _ => 0, At(10));

        Assert.Equal(((decimal)balance, (decimal)polarCarried), (carry.BalanceBefore, carry.PolarCarried));
        Assert.Equal((decimal)h, Assert.Single(carry.Carried).Units);
        Assert.Equal(20m, CreditAllocation.Allocate(blocks, [At(10)], _ => 0, At(8))[0].Unplaced);
    }

    [Fact]
    public void A_partial_late_revocation_in_a_window_that_has_passed_leaves_the_rest_to_be_carried()
    {
        // Wiped at 10 with 100 unspent; 30 of it taken back at 12 (sent before the reset was listed); no re-grant made until
        // after the reset at 20: the 70 left are granted again in the latest window.
        CreditBlock[] blocks = [new("promo", 100, At(0), RevokedAt: At(12)) { CarryOver = true, RevokedUnits = 30, PartlyRevoked = true }];

        var made = Assert.Single(CreditAllocation.CarryOvers(blocks, [At(10), At(20)], _ => 0, At(30), RegrantId));

        Assert.Equal(("co(promo@10)", 70m, At(20), (DateTimeOffset?)null), (made.Regrant.GrantId, made.Regrant.Units, made.Regrant.GrantedAt, made.Regrant.RevokedAt));
    }

    [Fact]
    public void What_is_still_owed_at_a_reset_lowers_polars_balance_there_and_not_the_next_windows_blocks()
    {
        // 30 taken from "c" (10) at 5, after "h" expired at 4, and nothing granted before the reset at 10: Polar's balance
        // there is -20, and the new window's block owes nothing.
        CreditBlock[] blocks =
        [
            new("c", 10, At(0), RevokedAt: At(5)) { RevokedUnits = 30 },
            new("h", 50, At(1), ExpiresAt: At(4)) { CarryOver = true },
            new("next", 40, At(10)),
        ];

        var carry = CreditAllocation.CarryOverAt(blocks, [At(10)], _ => 0, At(10));
        var states = CreditAllocation.Allocate(blocks, [At(10)], _ => 0, At(12));

        Assert.Equal((-20m, 0m), (carry.BalanceBefore, carry.PolarCarried));
        Assert.Equal((20m, 0m, 40m), (states[0].Unplaced, states[2].Revoked, states[2].Remaining));
    }
}

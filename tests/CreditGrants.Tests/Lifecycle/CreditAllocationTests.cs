using CreditGrants.Lifecycle;
using CsCheck;

namespace CreditGrants.Tests.Lifecycle;

/// <summary>
/// The consumption rule of docs/credit-lifecycle.md on many interleavings of grants, usage, revocations, expiries and resets
/// (CsCheck generates them and shrinks a failing one), plus the cases the issue names.
/// </summary>
public sealed class CreditAllocationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(int hours) => T0.AddHours(hours);

    /// <summary>A history: blocks (units 1..100, granted, maybe expiring or revoked later), usage steps, resets, and a "now".</summary>
    private sealed record History(CreditBlock[] Blocks, (int Hour, int Units)[] Usage, int[] Resets, int Now)
    {
        public decimal UsageAt(DateTimeOffset moment) => Usage.Where(u => At(u.Hour) <= moment).Sum(u => (decimal)u.Units);

        public IReadOnlyList<CreditBlockState> Allocate(int? now = null) =>
            CreditAllocation.Allocate(Blocks, Resets.Select(At).ToArray(), UsageAt, At(now ?? Now));

        public override string ToString() =>
            $"blocks [{string.Join("; ", Blocks.Select(b => $"{b.GrantId} {b.Units} @{(b.GrantedAt - T0).TotalHours} exp {(b.ExpiresAt - T0)?.TotalHours} rev {(b.RevokedAt - T0)?.TotalHours}"))}] " +
            $"usage [{string.Join(", ", Usage.Select(u => $"{u.Units}@{u.Hour}"))}] resets [{string.Join(", ", Resets)}] now {Now}";
    }

    /// <summary>A revocation takes everything (no units), or given units (1..120), partly (leaving the rest open) or not.</summary>
    private static readonly Gen<CreditBlock> Block =
        Gen.Select(Gen.Int[1, 100], Gen.Int[0, 40], Gen.Int[1, 40].Nullable(), Gen.Int[1, 40].Nullable(), Gen.Int[0, 9999], Gen.Int[1, 120].Nullable(), Gen.Bool)
            .Select((units, granted, expiresAfter, revokedAfter, id, revokedUnits, partly) => new CreditBlock($"g{id:D4}", units, At(granted),
                expiresAfter is { } e ? At(granted + e) : null, revokedAfter is { } r ? At(granted + r) : null)
            {
                RevokedUnits = revokedAfter is null ? null : revokedUnits,
                PartlyRevoked = revokedAfter is not null && revokedUnits is not null && partly,
            });

    private static readonly Gen<History> Histories =
        Gen.Select(Block.Array[0, 8], Gen.Select(Gen.Int[0, 90], Gen.Int[0, 60]).Array[0, 12], Gen.Int[1, 90].Array[0, 2], Gen.Int[0, 90])
            .Select((blocks, usage, resets, now) => new History(
                blocks.DistinctBy(b => b.GrantId).ToArray(), usage, resets.Distinct().ToArray(), now));

    [Fact]
    public void Spent_units_never_exceed_a_blocks_units_nor_the_usage_and_closed_blocks_keep_nothing()
    {
        Histories.Sample(history =>
        {
            var states = history.Allocate();
            var usage = history.UsageAt(At(history.Now));
            return states.All(s => s.Spent >= 0 && s.Revoked >= 0 && s.Spent + s.Revoked <= s.Block.Units && s.Remaining >= 0
                       && (s.ClosedAt is null ? s.Spent + s.Revoked + s.Remaining == s.Block.Units : s.Remaining == 0))
                   && states.Sum(s => s.Spent) <= usage;
        }, iter: 2000);
    }

    [Fact]
    public void The_allocation_does_not_depend_on_the_order_the_blocks_are_given_in()
    {
        Histories.Sample(history =>
        {
            var given = history.Allocate().OrderBy(s => s.Block.GrantId, StringComparer.Ordinal);
            var reversed = (history with { Blocks = [.. history.Blocks.Reverse()] }).Allocate().OrderBy(s => s.Block.GrantId, StringComparer.Ordinal);
            return given.SequenceEqual(reversed);
        }, iter: 2000);
    }

    [Fact]
    public void Revocations_at_one_moment_take_from_their_own_blocks_before_any_takes_beyond_its_own()
    {
        // 30 used of "a" (the oldest); at 5, a's revocation asks 40 (20 beyond its 20 left) and b's partial one 25 of its 40.
        CreditBlock[] ab =
        [
            new("a", 50, At(0), RevokedAt: At(5)) { RevokedUnits = 40 },
            new("b", 40, At(1), RevokedAt: At(5)) { RevokedUnits = 25, PartlyRevoked = true },
        ];

        foreach (var blocks in new[] { ab, [ab[1], ab[0]] })
        {
            var b = CreditAllocation.Allocate(blocks, [], m => m >= At(3) ? 30 : 0, At(8)).Single(s => s.Block.GrantId == "b");
            // b's own 25 first, then 15 of a's 20 beyond (all b has left; 5 are owed): open with nothing left.
            Assert.Equal((CreditBlockStatus.Used, 40m, 0m), (b.Status, b.Revoked, b.Remaining));
        }
    }

    [Fact]
    public void A_closed_block_is_frozen_whatever_usage_comes_after()
    {
        Histories.Sample(history =>
        {
            var early = history.Allocate();
            var later = history.Allocate(now: 200);
            return early.Zip(later).All(p => p.First.ClosedAt is null
                || (p.Second.ClosedAt == p.First.ClosedAt && p.Second.Spent == p.First.Spent && p.Second.Revoked == p.First.Revoked
                    && p.Second.Status == p.First.Status));
        }, iter: 2000);
    }

    [Fact]
    public void Usage_spends_soonest_expiry_first_then_oldest_and_no_credit_is_left_while_usage_is_charged_to_none()
    {
        // Blocks all open from hour 0, no closes: the allocation is a greedy fill in the stated order.
        var gen = Gen.Select(Gen.Select(Gen.Int[1, 100], Gen.Int[0, 5], Gen.Int[50, 60].Nullable()).Array[1, 8], Gen.Int[0, 800]);
        gen.Sample((specs, used) =>
        {
            var blocks = specs.Select((s, i) => new CreditBlock($"g{i}", s.Item1, At(s.Item2), s.Item3 is { } e ? At(e) : null)).ToArray();
            var states = CreditAllocation.Allocate(blocks, [], m => m >= At(10) ? used : 0, At(20));
            var inOrder = states.OrderBy(s => s.Block.ExpiresAt ?? DateTimeOffset.MaxValue).ThenBy(s => s.Block.GrantedAt)
                .ThenBy(s => s.Block.GrantId, StringComparer.Ordinal).ToArray();
            var left = (decimal)used;
            foreach (var state in inOrder)
            {
                var expected = Math.Min(left, state.Block.Units);
                if (state.Spent != expected)
                {
                    return false;
                }

                left -= expected;
            }

            return states.Sum(s => s.Spent) == Math.Min(used, blocks.Sum(b => b.Units));
        }, iter: 2000);
    }

    [Fact]
    public void A_reset_wipes_the_open_blocks_granted_before_it_and_spares_one_granted_at_it()
    {
        CreditBlock[] blocks = [new("before", 100, At(0)), new("carry", 40, At(10))];

        var states = CreditAllocation.Allocate(blocks, [At(10)], m => m >= At(5) ? 30 : 0, At(20));

        Assert.Equal((CreditBlockStatus.WipedByReset, 30m, 70m), (states[0].Status, states[0].Spent, states[0].Unspent));
        Assert.Equal((CreditBlockStatus.Active, 40m), (states[1].Status, states[1].Remaining));
    }

    [Fact]
    public void A_revocation_takes_back_only_what_is_unspent_and_later_usage_goes_to_the_next_block()
    {
        CreditBlock[] blocks = [new("wrong", 100, At(0), RevokedAt: At(5)), new("right", 50, At(1))];

        var states = CreditAllocation.Allocate(blocks, [], m => m >= At(6) ? 90 : m >= At(2) ? 60 : 0, At(8));

        Assert.Equal((CreditBlockStatus.Revoked, 60m, 40m), (states[0].Status, states[0].Spent, states[0].Unspent));
        Assert.Equal((CreditBlockStatus.PartlyUsed, 30m, 20m), (states[1].Status, states[1].Spent, states[1].Remaining));
    }

    /// <summary>
    /// Polar's balance is a sum: every unit granted, less every unit used and every unit a revocation took, whichever block held
    /// it. With every block granted at once and nothing expiring or reset, the open blocks keep exactly that (never below 0:
    /// once nothing is left, usage and revocations are charged to none). Revocations of given units (as the ledger reads a
    /// partial refund, or one that took more than was left); one that takes "everything" takes what the model has left.
    /// </summary>
    [Fact]
    public void Open_blocks_keep_what_polars_sum_keeps_after_usage_and_revocations_of_given_units()
    {
        var gen = Gen.Select(Gen.Select(Gen.Int[1, 100], Gen.Int[1, 40].Nullable(), Gen.Int[1, 120]).Array[1, 8],
            Gen.Select(Gen.Int[1, 40], Gen.Int[0, 60]).Array[0, 12]);
        gen.Sample((specs, usage) =>
        {
            var blocks = specs.Select((s, i) => new CreditBlock($"g{i}", s.Item1, At(0), RevokedAt: s.Item2 is { } r ? At(r) : null)
            {
                RevokedUnits = s.Item2 is null ? null : s.Item3,
                PartlyRevoked = s.Item2 is not null,
            }).ToArray();
            var states = CreditAllocation.Allocate(blocks, [], m => usage.Where(u => At(u.Item1) <= m).Sum(u => (decimal)u.Item2), At(50));
            var taken = usage.Sum(u => (decimal)u.Item2) + blocks.Sum(b => b.RevokedUnits ?? 0);
            return states.Where(s => s.ClosedAt is null).Sum(s => s.Remaining) == Math.Max(0, blocks.Sum(b => b.Units) - taken);
        }, iter: 3000);
    }

    [Fact]
    public void A_partial_revocation_leaves_the_rest_of_its_block_open_to_be_spent_and_to_expire()
    {
        // 20 used, then 30 of the 80 left taken back at hour 5: 50 stay open; 40 more used; the 10 left expire at hour 24.
        CreditBlock[] blocks = [new("refunded", 100, At(0), ExpiresAt: At(24), RevokedAt: At(5)) { RevokedUnits = 30, PartlyRevoked = true }];

        var open = CreditAllocation.Allocate(blocks, [], m => m >= At(8) ? 60 : m >= At(2) ? 20 : 0, At(10));
        var expired = CreditAllocation.Allocate(blocks, [], m => m >= At(8) ? 60 : m >= At(2) ? 20 : 0, At(30));

        Assert.Equal((CreditBlockStatus.PartlyUsed, 60m, 30m, 10m), (open[0].Status, open[0].Spent, open[0].Revoked, open[0].Remaining));
        Assert.Equal((CreditBlockStatus.Expired, 10m), (expired[0].Status, expired[0].Unspent));
    }

    /// <summary>
    /// 80 used of "mine" (the oldest), then 50 asked of its 20 left: it closes, and the 30 beyond are charged to the others.
    /// Asked with a negative balance allowed, they go in the consumption order (the plain credit, older than Polar's); made
    /// across a reset (sent before the reset was listed), Polar's rollover credit pays first: the units of the grant that
    /// Polar's own rollover carried sit there.
    /// </summary>
    [Theory]
    [InlineData(false, 30, 0)]
    [InlineData(true, 5, 25)]
    public void A_revocation_of_more_than_is_left_closes_the_block_and_charges_the_excess_to_the_others(bool acrossReset, int plainRevoked, int rolloverRevoked)
    {
        CreditBlock[] blocks =
        [
            new("mine", 100, At(0), RevokedAt: At(5)) { RevokedUnits = 50, PartlyRevoked = true, RevokedAcrossReset = acrossReset },
            new("plain", 40, At(1)),
            new("polar:rollover", 25, At(2)) { PolarRollover = true },
        ];

        var states = CreditAllocation.Allocate(blocks, [], m => m >= At(3) ? 80 : 0, At(10));

        Assert.Equal((CreditBlockStatus.Revoked, 20m), (states[0].Status, states[0].Unspent));
        Assert.Equal(((decimal)plainRevoked, (decimal)rolloverRevoked), (states[1].Revoked, states[2].Revoked));
        Assert.Equal(35m, states.Sum(s => s.Remaining));
    }

    [Fact]
    public void A_revocation_made_inside_an_hour_charges_its_block_the_hours_usage_it_saw_and_that_usage_is_not_charged_again()
    {
        // Hourly usage: 17 used in hour 5 show at 6. The revocation at 5:30 saw 83 of "a" unspent and took them: "a" is
        // charged the 17 then, and b keeps its 50 (before: a closed with 100, and b was charged the hour's 17).
        CreditBlock[] blocks =
        [
            new("a", 100, At(0), ExpiresAt: At(48), RevokedAt: At(5).AddMinutes(30)) { RevokedUnits = 83, UnspentWhenRevoked = 83 },
            new("b", 50, At(1)),
        ];

        var states = CreditAllocation.Allocate(blocks, [], m => m >= At(6) ? 17 : 0, At(10));

        Assert.Equal((17m, 83m), (states[0].Spent, states[0].Unspent));
        Assert.Equal((0m, 50m), (states[1].Spent, states[1].Remaining));
    }

    [Fact]
    public void A_revocation_landing_after_a_reset_wiped_its_block_is_charged_to_the_credits_open_then()
    {
        // Wiped at 10 with its 60 unspent; the revocation sent before the reset was listed lands at 11 and takes its 60
        // from the window after the reset, where Polar's rollover credit holds 45 and a new grant 100.
        CreditBlock[] blocks =
        [
            new("late", 60, At(0), RevokedAt: At(11)) { RevokedUnits = 60 },
            new("polar:rollover", 45, At(10)) { PolarRollover = true },
            new("new", 100, At(10)),
        ];

        var states = CreditAllocation.Allocate(blocks, [At(10)], _ => 0, At(12));

        Assert.Equal((CreditBlockStatus.WipedByReset, 60m), (states[0].Status, states[0].Unspent));
        Assert.Equal((45m, 15m), (states[1].Revoked, states[2].Revoked));
        Assert.Equal(85m, states.Sum(s => s.Remaining));
    }

    [Fact]
    public void An_expiring_promotion_is_spent_before_credits_that_never_expire()
    {
        CreditBlock[] blocks = [new("paid", 100, At(0)), new("promo", 20, At(1), ExpiresAt: At(24))];

        var states = CreditAllocation.Allocate(blocks, [], m => m >= At(3) ? 25 : 0, At(30));

        Assert.Equal((CreditBlockStatus.Expired, 20m), (states[1].Status, states[1].Spent));
        Assert.Equal((CreditBlockStatus.PartlyUsed, 5m), (states[0].Status, states[0].Spent));
    }

    [Theory]
    [InlineData("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z")]
    [InlineData("2026-12-01T10:00:01Z", "2026-12-01T11:00:00Z")]
    [InlineData("2026-12-01T10:59:59+02:00", "2026-12-01T09:00:00Z")]
    public void An_expiry_inside_an_hour_takes_effect_at_its_end(string expiresAt, string effective)
    {
        Assert.Equal(DateTimeOffset.Parse(effective, System.Globalization.CultureInfo.InvariantCulture),
            CreditAllocation.EffectiveExpiry(DateTimeOffset.Parse(expiresAt, System.Globalization.CultureInfo.InvariantCulture)));
    }
}

using System.Text.Json.Nodes;
using CreditGrants.Campaigns;
using Microsoft.Extensions.Time.Testing;
using static CreditGrants.Tests.Campaigns.CampaignJson;

namespace CreditGrants.Tests.Campaigns;

public class CampaignOccurrenceTests
{
    private static DateTimeOffset Utc(int year, int month, int day, int hour, int minute = 0) => new(year, month, day, hour, minute, 0, TimeSpan.Zero);

    private static Campaign Cron(string cron, string zone = "Europe/Berlin", Action<JsonObject>? change = null)
    {
        var document = Weekly();
        document["schedule"] = new JsonObject { ["cron"] = cron, ["timeZone"] = zone };
        change?.Invoke(document);
        return Valid(document);
    }

    [Fact]
    public void Occurrence_is_the_cron_time_in_its_zone_identified_in_UTC()
    {
        var campaign = Cron("0 9 * * MON");

        var next = CampaignOccurrences.Next(campaign, Utc(2026, 12, 1, 0), 2);

        Assert.Equal([Utc(2026, 12, 7, 8), Utc(2026, 12, 14, 8)], next);
        Assert.Equal("2026-12-07T08:00:00Z", CampaignSchedule.Key(next[0]));
        Assert.Equal(new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.FromHours(1)), campaign.Schedule.Local(next[0]));
    }

    [Fact]
    public void Spring_forward_runs_a_time_in_the_gap_at_the_end_of_the_gap()
    {
        var campaign = Cron("30 2 * * *");

        var next = CampaignOccurrences.Next(campaign, Utc(2026, 3, 27, 12), 3);

        // 28 March 02:30 CET; 29 March 02:30 does not exist in Berlin, so Cronos runs at 03:00 CEST; 30 March 02:30 CEST.
        Assert.Equal([Utc(2026, 3, 28, 1, 30), Utc(2026, 3, 29, 1, 0), Utc(2026, 3, 30, 0, 30)], next);
    }

    [Fact]
    public void Fall_back_runs_a_time_in_the_repeated_hour_once()
    {
        var campaign = Cron("30 2 * * *");

        var next = CampaignOccurrences.Next(campaign, Utc(2026, 10, 23, 12), 3);

        // 25 October 02:30 happens twice in Berlin (CEST, then CET); a fixed time runs at the first of them only.
        Assert.Equal([Utc(2026, 10, 24, 0, 30), Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 26, 1, 30)], next);
    }

    [Fact]
    public void Fall_back_runs_an_interval_in_both_repeated_hours()
    {
        var campaign = Cron("0 * * * *");

        // Hourly: 02:00 CEST (00:00Z), 02:00 CET (01:00Z) and 03:00 CET (02:00Z) are three occurrences, identified apart in UTC.
        var all = campaign.Schedule.Occurrences(Utc(2026, 10, 24, 23, 30), Utc(2026, 10, 25, 2, 30)).ToList();
        Assert.Equal([Utc(2026, 10, 25, 0), Utc(2026, 10, 25, 1), Utc(2026, 10, 25, 2)], all);
    }

    [Fact]
    public void Nothing_is_due_before_the_first_occurrence()
    {
        var time = new FakeTimeProvider(Utc(2026, 12, 7, 7, 59));
        var campaign = Cron("0 9 * * MON");

        var due = CampaignOccurrences.Due(campaign, Utc(2026, 11, 30, 8), null, time.GetUtcNow(), out var skipped);

        Assert.Empty(due.Due);
        Assert.Equal(0, skipped);
    }

    [Fact]
    public void Occurrence_is_due_at_its_instant_and_not_again_once_processed()
    {
        var time = new FakeTimeProvider(Utc(2026, 12, 7, 8));
        var campaign = Cron("0 9 * * MON");

        var first = CampaignOccurrences.Due(campaign, Utc(2026, 11, 30, 8), null, time.GetUtcNow(), out _);
        time.Advance(TimeSpan.FromMinutes(5));
        var again = CampaignOccurrences.Due(campaign, first.Due[^1], null, time.GetUtcNow(), out _);

        Assert.Equal([Utc(2026, 12, 7, 8)], first.Due);
        Assert.Empty(again.Due);
    }

    [Fact]
    public void Catch_up_runs_the_latest_missed_occurrences_and_skips_older_ones()
    {
        var time = new FakeTimeProvider(Utc(2026, 12, 29, 10));
        var campaign = Cron("0 9 * * MON", change: d => d["catchUp"] = 2);

        // Down since after 30 November: 7, 14, 21 and 28 December were missed.
        var due = CampaignOccurrences.Due(campaign, Utc(2026, 11, 30, 8), null, time.GetUtcNow(), out var skipped);

        Assert.Equal([Utc(2026, 12, 21, 8), Utc(2026, 12, 28, 8)], due.Due);
        Assert.Equal([Utc(2026, 12, 7, 8), Utc(2026, 12, 14, 8)], due.Skipped);
        Assert.Equal(2, skipped);
    }

    [Fact]
    public void Cron_campaign_without_startsAt_begins_when_first_seen()
    {
        var time = new FakeTimeProvider(Utc(2026, 12, 8, 10));
        var campaign = Cron("0 9 * * MON");

        var due = CampaignOccurrences.Due(campaign, null, firstSeen: time.GetUtcNow(), time.GetUtcNow(), out var skipped);

        Assert.Empty(due.Due);
        Assert.Equal(0, skipped);
    }

    [Fact]
    public void Window_keeps_occurrences_before_startsAt_and_after_endsAt_from_being_due()
    {
        var campaign = Cron("0 9 * * MON", change: d =>
        {
            d["startsAt"] = "2026-12-07T09:00:00+01:00";
            d["endsAt"] = "2026-12-14T08:59:59+01:00";
            d["catchUp"] = 10;
        });

        var due = CampaignOccurrences.Due(campaign, null, null, Utc(2027, 1, 31, 0), out var skipped);

        Assert.Equal([Utc(2026, 12, 7, 8)], due.Due);
        Assert.Equal(0, skipped);
    }

    [Fact]
    public void StartsAt_itself_is_an_occurrence_when_the_cron_falls_on_it()
    {
        var campaign = Cron("0 9 * * MON", change: d => d["startsAt"] = "2026-12-07T09:00:00+01:00");

        var due = CampaignOccurrences.Due(campaign, null, null, Utc(2026, 12, 7, 8), out _);

        Assert.Equal([Utc(2026, 12, 7, 8)], due.Due);
    }

    [Fact]
    public void Once_is_due_from_its_instant_and_only_until_processed()
    {
        var document = Weekly();
        document["schedule"] = new JsonObject { ["once"] = "2026-12-24T09:00:00+01:00" };
        var campaign = Valid(document);
        var time = new FakeTimeProvider(Utc(2026, 12, 24, 7, 59));

        var early = CampaignOccurrences.Due(campaign, null, null, time.GetUtcNow(), out _);
        time.Advance(TimeSpan.FromDays(30));
        var late = CampaignOccurrences.Due(campaign, null, firstSeen: time.GetUtcNow(), time.GetUtcNow(), out _);
        var done = CampaignOccurrences.Due(campaign, Utc(2026, 12, 24, 8), null, time.GetUtcNow(), out _);

        Assert.Empty(early.Due);
        Assert.Equal([Utc(2026, 12, 24, 8)], late.Due);
        Assert.Empty(done.Due);
    }

    [Fact]
    public void Disabled_campaign_has_nothing_due()
    {
        var campaign = Cron("0 9 * * MON", change: d => d["enabled"] = false);

        var due = CampaignOccurrences.Due(campaign, Utc(2026, 11, 30, 8), null, Utc(2027, 1, 1, 0), out _);

        Assert.Empty(due.Due);
    }
}

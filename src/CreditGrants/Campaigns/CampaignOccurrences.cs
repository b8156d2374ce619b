namespace CreditGrants.Campaigns;

/// <summary>The occurrences a run handles, and how many older missed ones it skips.</summary>
/// <param name="Due">The occurrences to run now, oldest first; at most the campaign's <c>catchUp</c>.</param>
/// <param name="Skipped">Missed occurrences older than the catch-up allows, oldest first; never run.</param>
public sealed record DueOccurrences(IReadOnlyList<DateTimeOffset> Due, IReadOnlyList<DateTimeOffset> Skipped)
{
    public static DueOccurrences None { get; } = new([], []);
}

/// <summary>Which occurrences of a campaign are due at an instant, given the last one processed.</summary>
public static class CampaignOccurrences
{
    /// <summary>The most skipped occurrences listed by instant; beyond this only their count is kept.</summary>
    public const int MaxListedSkipped = 100;

    /// <param name="campaign">The campaign; a disabled one has nothing due.</param>
    /// <param name="lastProcessed">The last occurrence processed, or null when none has been.</param>
    /// <param name="firstSeen">When the campaign was first seen by a run: a cron campaign without <c>startsAt</c> starts there, so
    /// uploading a weekly campaign on a Tuesday does not grant for the Monday before.</param>
    /// <param name="at">The instant of the run: occurrences up to and including it are due.</param>
    /// <param name="skippedCount">How many occurrences were skipped in all (the list stops at <see cref="MaxListedSkipped"/>).</param>
    public static DueOccurrences Due(Campaign campaign, DateTimeOffset? lastProcessed, DateTimeOffset? firstSeen, DateTimeOffset at,
        out long skippedCount)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        skippedCount = 0;
        if (!campaign.Enabled)
        {
            return DueOccurrences.None;
        }

        var lowerBound = lastProcessed ?? (campaign.Schedule is CronSchedule ? campaign.StartsAt?.AddTicks(-1) ?? firstSeen?.AddTicks(-1) : null);
        var upperBound = campaign.EndsAt is { } end && end < at ? end : at;
        var due = new Queue<DateTimeOffset>(campaign.CatchUp + 1);
        var skipped = new List<DateTimeOffset>();
        foreach (var occurrence in campaign.Schedule.Occurrences(lowerBound, upperBound))
        {
            if (!campaign.InWindow(occurrence))
            {
                continue;
            }

            due.Enqueue(occurrence);
            if (due.Count > campaign.CatchUp)
            {
                var old = due.Dequeue();
                skippedCount++;
                if (skipped.Count < MaxListedSkipped)
                {
                    skipped.Add(old);
                }
            }
        }

        return new DueOccurrences([.. due], skipped);
    }

    /// <summary>The next <paramref name="count"/> occurrences after <paramref name="after"/>, inside the campaign's window.</summary>
    public static IReadOnlyList<DateTimeOffset> Next(Campaign campaign, DateTimeOffset after, int count)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        var list = new List<DateTimeOffset>(count);
        var cursor = campaign.StartsAt is { } start && start > after ? start.AddTicks(-1) : after;
        while (list.Count < count && campaign.Schedule.NextAfter(cursor) is { } next && (campaign.EndsAt is null || next <= campaign.EndsAt))
        {
            list.Add(next);
            cursor = next;
        }

        return list;
    }
}

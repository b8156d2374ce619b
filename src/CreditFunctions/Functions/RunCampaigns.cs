using CreditGrants.Storage.Campaigns;
using Microsoft.Azure.Functions.Worker;

namespace CreditFunctions.Functions;

/// <summary>
/// The campaign timer (<c>%CampaignSchedule%</c>, UTC; each campaign's cron and time zone are evaluated in code): runs
/// the occurrences due since each campaign's last one and enqueues their grants as bulk jobs for the queue function.
/// Not run on startup, so a deployment or a scale-out is not a campaign run.
/// </summary>
public sealed class RunCampaigns(CampaignScheduler scheduler)
{
    [Function(nameof(RunCampaigns))]
    public Task Run([TimerTrigger("%CampaignSchedule%", RunOnStartup = false)] TimerInfo timer, CancellationToken cancellationToken) =>
        scheduler.RunAsync(cancellationToken);
}

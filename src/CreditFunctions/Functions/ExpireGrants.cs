using CreditGrants.Expiry;
using Microsoft.Azure.Functions.Worker;

namespace CreditFunctions.Functions;

/// <summary>
/// The expiry timer (<c>%ExpirySchedule%</c>, UTC): takes back the unspent credits of the grants whose expiry has passed, as
/// the app's expiry index lists them, in batched ingests of expiry events. Not run on startup, so a deployment or a scale-out
/// is not a sweep; a run that is late or repeated takes back nothing twice.
/// </summary>
public sealed class ExpireGrants(ExpirySweep sweep)
{
    [Function(nameof(ExpireGrants))]
    public Task Run([TimerTrigger("%ExpirySchedule%", RunOnStartup = false)] TimerInfo timer, CancellationToken cancellationToken) =>
        sweep.RunAsync(null, cancellationToken);
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CreditGrants.Expiry;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CreditGrants.Bench;

/// <summary>
/// The expiry sweep over <c>count</c> due grants, one per customer, a tenth of them partly spent: set up with backdated grant
/// and usage events (Polar accepts past timestamps) and the index entries the app would have written, then one
/// <see cref="ExpirySweep"/> run, as the <c>ExpireGrants</c> timer makes it. Polar requests (by kind), time and peak memory.
/// </summary>
public static class ExpiryBenchmark
{
    private const string Meter = "API Calls";

    public static async Task<BenchResult> RunAsync(string name, int count, PolarSettings polar)
    {
        ArgumentNullException.ThrowIfNull(polar);
        var tally = new RequestTally();
        var index = new InMemoryExpiryIndex();
        var services = PolarHost.Build(polar, tally, s => s.Replace(ServiceDescriptor.Singleton<IExpiryIndex>(index)));
        await using (services.ConfigureAwait(false))
        {
            var gateway = services.GetRequiredService<IPolarGateway>();
            var target = await gateway.GetGrantTargetAsync(Meter).ConfigureAwait(false);
            var now = DateTimeOffset.UtcNow;
            var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
            var (grantedAt, expiresAt) = (hour.AddHours(-3), hour.AddHours(-1));
            var run = Guid.NewGuid().ToString("N")[..8];
            var events = new List<PolarEvent>(count + count / 10);
            var entries = new List<DueExpiry>(count);
            for (var i = 0; i < count; i++)
            {
                var grant = new CreditGrant(new GrantId($"bench-{run}-{i}"), CustomerRef.External($"expiry-{run}-{i}"), 100, Meter, "bench", "bench", expiresAt);
                events.Add(GrantService.BuildEvent(grant, target, null) with { Timestamp = grantedAt });
                entries.Add(DueExpiry.Of(grant, grantedAt));
                if (i % 10 == 0)
                {
                    events.Add(new PolarEvent(target.EventName, null, $"expiry-{run}-{i}", null, grantedAt.AddMinutes(30),
                        new Dictionary<string, JsonElement> { [target.Property] = PolarMetadata.Number(40) }));
                }
            }

            await gateway.IngestAsync(events).ConfigureAwait(false);
            await index.AddAsync(entries).ConfigureAwait(false);
            var sweep = services.GetRequiredService<ExpirySweep>();

            tally.Reset();
            var (result, seconds, memory) = await ResourceWatch.MeasureAsync(polar.ServerProcessId, () => sweep.RunAsync()).ConfigureAwait(false);

            return new BenchResult(name, "expiry", count, seconds, memory)
            {
                Granted = result.Count(ExpiryStatus.Expired),
                Rejected = result.Expiries.Count - result.Count(ExpiryStatus.Expired),
                Note = string.Create(CultureInfo.InvariantCulture, $"{result.UnitsTakenBack} units taken back; sweep counted {result.PolarRequests} requests"),
            }.WithRequests(tally, polar.RequestsPerMinute);
        }
    }
}

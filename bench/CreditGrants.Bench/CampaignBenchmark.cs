using System.Diagnostics;
using System.Globalization;
using CreditGrants.Campaigns;
using Microsoft.Extensions.DependencyInjection;

namespace CreditGrants.Bench;

/// <summary>
/// An <c>allCustomers</c> campaign over every customer of the emulator, run once with <see cref="CampaignRunner"/> as the
/// CLI runs it: Polar requests per 1,000 grants (list pages of 100 plus batched ingest), time, and peak memory.
/// </summary>
public static class CampaignBenchmark
{
    public static async Task<BenchResult> RunAsync(string name, PolarSettings polar, EndToEndTargets targets)
    {
        ArgumentNullException.ThrowIfNull(polar);
        var tally = new RequestTally();
        var services = PolarHost.Build(polar, tally);
        var stateDirectory = Path.Combine(Path.GetTempPath(), $"bench-campaign-{Guid.NewGuid():N}");
        await using (services.ConfigureAwait(false))
        {
            var id = "bench-" + Guid.NewGuid().ToString("N")[..8];
            var validation = services.GetRequiredService<CampaignValidator>().Validate(string.Create(CultureInfo.InvariantCulture, $$$"""
                {"id":"{{{id}}}","units":10,"schedule":{"once":"2026-01-01T00:00:00Z"},"audience":{"allCustomers":{}},"grantPolicy":"everyOccurrence"}
                """));
            var campaign = validation.Campaign ?? throw new InvalidOperationException(string.Join("; ", validation.Errors));
            var runner = services.GetRequiredService<CampaignRunner>();
            CampaignRunResult result;
            double seconds;
            ResourceFigures memory;
            try
            {
                tally.Reset();
                (result, seconds, memory) = await ResourceWatch.MeasureAsync(polar.ServerProcessId,
                    () => runner.RunAsync(campaign, new FileCampaignStateStore(stateDirectory), DateTimeOffset.UtcNow)).ConfigureAwait(false);
            }
            finally
            {
                if (Directory.Exists(stateDirectory))
                {
                    Directory.Delete(stateDirectory, recursive: true);
                }
            }

            var occurrence = result.Occurrences.Single();
            return EndToEndBenchmark.WithTargets(new BenchResult(name, "campaign", occurrence.Targets, seconds, memory)
            {
                Granted = result.Granted,
                Rejected = result.Rejected + result.Failed,
                Duplicates = result.Duplicates,
                Note = $"{result.UnitsGranted.ToString(CultureInfo.InvariantCulture)} units granted",
            }.WithRequests(tally, polar.RequestsPerMinute), targets);
        }
    }
}

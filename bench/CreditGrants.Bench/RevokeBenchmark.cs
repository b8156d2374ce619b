using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using CreditGrants.Polar;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;

namespace CreditGrants.Bench;

/// <summary>
/// A bulk job's revocation (docs/bulk.md, "Undo a wrong upload"): <c>rows</c> grants of 10 units spread evenly over
/// <c>customers</c> seeded customers (<c>user-1</c> …), a tenth of the customers having spent 25 units of theirs, set up with
/// backdated grant and usage events (Polar accepts past timestamps), then one <see cref="BulkRevocation"/> over the job's
/// rows, as the request (up to 100 customers) or each queued slice (100 customers a slice) runs it. Polar requests (by
/// kind), time and peak memory; the queue and Azure Storage around the slices are not in it.
/// </summary>
public static class RevokeBenchmark
{
    private const string Meter = "API Calls";
    private const int UnitsPerRow = 10;
    private const int Spent = 25;

    public static async Task<BenchResult> RunAsync(string name, int rows, int customers, PolarSettings polar)
    {
        ArgumentNullException.ThrowIfNull(polar);
        var tally = new RequestTally();
        var services = PolarHost.Build(polar, tally);
        await using (services.ConfigureAwait(false))
        {
            var gateway = services.GetRequiredService<IPolarGateway>();
            var target = await gateway.GetGrantTargetAsync(Meter).ConfigureAwait(false);
            var now = DateTimeOffset.UtcNow;
            var grantedAt = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(-2);
            var run = Guid.NewGuid().ToString("N")[..8];
            var events = new List<PolarEvent>(rows + customers / 10);
            var granted = new List<BulkGrantedRow>(rows);
            for (var i = 0; i < rows; i++)
            {
                var customer = $"user-{(i % customers) + 1}";
                var grant = new CreditGrant(new GrantId($"bench-{run}-{i}"), CustomerRef.External(customer), UnitsPerRow, Meter, "bench", "bulk:bench-" + run);
                events.Add(GrantService.BuildEvent(grant, target, null) with { Timestamp = grantedAt.AddSeconds(i % 3600) });
                granted.Add(new BulkGrantedRow(i + 2, grant.GrantId.Value, customer, null, UnitsPerRow.ToString(CultureInfo.InvariantCulture), Meter, "granted"));
            }

            for (var c = 0; c < customers; c += 10)
            {
                events.Add(new PolarEvent(target.EventName, null, $"user-{c + 1}", null, grantedAt.AddMinutes(90),
                    new Dictionary<string, JsonElement> { [target.Property] = PolarMetadata.Number(Spent) }));
            }

            await gateway.IngestAsync(events).ConfigureAwait(false);
            var revocation = services.GetRequiredService<BulkRevocation>();

            tally.Reset();
            var ((_, summary), seconds, memory) = await ResourceWatch.MeasureAsync(polar.ServerProcessId,
                () => revocation.RevokeAsync(granted, new BulkRevokeOptions("bench", DryRun: false, "bulk-revoke:bench-" + run))).ConfigureAwait(false);

            return new BenchResult(name, "revoke", rows, seconds, memory)
            {
                Granted = summary.Revoked,
                Rejected = summary.Failed,
                Duplicates = summary.NothingUnspent,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"{summary.Customers} customers; {summary.Revoked} revoked, {summary.NothingUnspent} nothing unspent, {summary.Failed} failed; {summary.UnitsRevoked} units taken back; {summary.LedgerRequests} ledger requests"),
            }.WithRequests(tally, polar.RequestsPerMinute);
        }
    }
}

using System.Text;
using CreditGrants.Bulk;
using CreditGrants.Expiry;
using CreditGrants.Grants;
using CreditGrants.Polar;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Tests.Expiry;

/// <summary>Every way a grant is made records its expiry in the index before its event is sent, and only for grants that expire.</summary>
public sealed class ExpiryIndexWritingTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 10, 20, 0, TimeSpan.Zero);
    private readonly FakePolarGateway _polar = new();
    private readonly FakeTimeProvider _time = new(Now);
    private readonly InMemoryExpiryIndex _index = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("expiry-index-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private GrantService Service() => new(_polar, TestDirectory.Create(_polar, _time), _time, NullLogger<GrantService>.Instance, expiries: _index);

    private static CreditGrant Grant(string grantId, DateTimeOffset? expiresAt) =>
        new(new GrantId(grantId), CustomerRef.External("user-1"), 25, "API Calls", null, "http", expiresAt);

    [Fact]
    public async Task A_grant_that_expires_is_in_the_index_at_the_hour_its_expiry_takes_effect()
    {
        await Service().GrantAsync(Grant("g-1", Now.AddHours(3).AddMinutes(5)));
        await Service().GrantAsync(Grant("g-2", null));

        var entry = Assert.Single(_index.Entries);
        Assert.Equal(("g-1", "user-1", "API Calls", 25m), (entry.GrantId, entry.ExternalCustomerId, entry.Meter, entry.Units));
        Assert.Equal(new DateTimeOffset(2026, 12, 5, 14, 0, 0, TimeSpan.Zero), entry.TakesEffectAt);
        Assert.Equal(Now, entry.RecordedAt);
    }

    [Fact]
    public async Task The_entry_is_written_before_the_event_so_a_failed_send_leaves_it_for_the_sweep_to_check()
    {
        _polar.IngestCallsBeforeOutage = 0;

        await Assert.ThrowsAsync<PolarException>(() => Service().GrantAsync(Grant("g-1", Now.AddDays(1))));

        Assert.Single(_index.Entries);
    }

    [Fact]
    public async Task A_bulk_file_records_the_rows_with_an_expiry_and_a_dry_run_records_none()
    {
        var processor = new BulkChunkProcessor(_polar, TestDirectory.Create(_polar, _time), _time, NullLogger<BulkChunkProcessor>.Instance, _index);
        var runner = new BulkRunner(processor, new GrantValidator(new GrantOptions(), _time), Options.Create(new BulkOptions { ChunkRows = 2 }));
        var input = Path.Combine(_folder, "promo.csv");
        await File.WriteAllTextAsync(input, "external_customer_id,units,expires_at\nuser-1,10,2026-12-31T23:00:00Z\nuser-2,10,\nuser-3,5,2027-01-15T12:30:00+01:00\n",
            Encoding.UTF8);

        await runner.RunFileAsync(input, Path.Combine(_folder, "dry.csv"), new BulkRun(new BulkDefaults(), "promo", DryRun: true), progress: null);
        Assert.Empty(_index.Entries);

        await runner.RunFileAsync(input, Path.Combine(_folder, "results.csv"), new BulkRun(new BulkDefaults(), "promo"), progress: null);
        Assert.Equal([("user-1", "2026-12-31T23:00:00Z"), ("user-3", "2027-01-15T12:00:00Z")],
            _index.Entries.Select(e => (e.ExternalCustomerId!, GrantExpiry.Format(e.TakesEffectAt))));
    }

    [Fact]
    public async Task A_row_whose_expiry_passed_before_it_was_sent_is_rejected_and_not_recorded()
    {
        var processor = new BulkChunkProcessor(_polar, TestDirectory.Create(_polar, _time), _time, NullLogger<BulkChunkProcessor>.Instance, _index);
        var row = new BulkRow(2, Grant("late", Now.AddMinutes(-1)), [], "25", "user-1", null);

        var result = await processor.ProcessAsync([row]);

        var outcome = Assert.Single(result.Rows);
        Assert.Equal(RowStatus.Rejected, outcome.Status);
        Assert.Contains("expires at 2026-12-05T10:19:00Z, which is past", outcome.Reason, StringComparison.Ordinal);
        Assert.Empty(_index.Entries);
        Assert.Empty(_polar.Ingested);
    }
}

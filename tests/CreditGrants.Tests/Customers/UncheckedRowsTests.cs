using System.Text;
using CreditGrants.Customers;

namespace CreditGrants.Tests;

/// <summary>
/// Issue #19: rows to customers the directory cannot vouch for cost no lookup and are reported <c>unchecked</c>; a sweep of
/// any size resumes from its checkpoint; once the directory has learned the organization, the same file run again tells
/// the ids no customer holds (also for rows granted before), without granting anything twice.
/// </summary>
public sealed partial class CustomerDirectoryTests
{
    /// <summary>An organization over the inline limit (24 pages): 2,600 customers, 26 pages.</summary>
    private const int LargeOrganization = 2_600;

    private static string IdOnlyFile(IEnumerable<string> ids) =>
        "external_customer_id,units\n" + string.Concat(ids.Select(id => $"{id},5\n"));

    [Fact]
    public async Task Rows_to_customers_the_directory_does_not_know_cost_no_lookup_and_are_reported_unchecked()
    {
        AddCustomers(LargeOrganization);
        var directory = Directory_();

        var (summary, results) = await RunBulkAsync(directory, IdOnlyFile(Enumerable.Range(0, 500).Select(i => $"user-{i}")));

        Assert.Equal((500L, 500L, 0L), (summary.Granted, summary.Unchecked, summary.AwaitingCustomer));
        Assert.Equal(0, _polar.FindCalls + _polar.CreateCalls);
        Assert.True(_polar.ListCalls <= 1, $"{_polar.ListCalls} list requests: at most the count is read inline");
        Assert.All(results.Skip(1), line => Assert.Contains(",unchecked,", line, StringComparison.Ordinal));
        Assert.Contains("credits customers sync", results[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_a_sync_the_same_file_again_grants_nothing_twice_and_names_the_ids_no_customer_holds()
    {
        AddCustomers(LargeOrganization);
        var directory = Directory_();
        var file = IdOnlyFile(["user-1", "typo-user-2", "user-3"]);
        await RunBulkAsync(directory, file);
        var ingested = _polar.Ingested.Count;

        await directory.SweepAsync();
        var finds = _polar.FindCalls;
        var (again, results) = await RunBulkAsync(directory, file);

        Assert.Equal((0L, 3L), (again.Granted, again.Duplicates));
        Assert.Equal((0L, 1L), (again.Unchecked, again.AwaitingCustomer));
        Assert.Equal(ingested, _polar.Ingested.Count);
        Assert.Equal(finds, _polar.FindCalls); // the sweep vouches for the ids: no read
        var typo = Assert.Single(results, l => l.Contains("typo-user-2", StringComparison.Ordinal));
        Assert.Contains(",duplicate,", typo, StringComparison.Ordinal);
        Assert.Contains("no Polar customer has external id 'typo-user-2' yet", typo, StringComparison.Ordinal);
        Assert.DoesNotContain("no Polar customer", Assert.Single(results, l => l.Contains(",user-1,", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_small_organization_is_learned_inline_within_25_requests_and_no_row_is_left_unchecked()
    {
        AddCustomers(2_350); // 24 pages: the largest list learned inline
        var directory = Directory_();

        var (summary, _) = await RunBulkAsync(directory, IdOnlyFile(Enumerable.Range(0, 100).Select(i => $"user-{i}").Append("typo")));

        Assert.Equal((0L, 1L), (summary.Unchecked, summary.AwaitingCustomer));
        Assert.Equal(24, _polar.ListCalls); // the count's page is the sweep's first
        Assert.Equal(0, _polar.FindCalls + _polar.CreateCalls);
    }

    [Fact]
    public async Task With_customers_required_unknown_ids_are_still_looked_up_and_never_left_unchecked()
    {
        AddCustomers(LargeOrganization);
        var directory = Directory_();

        var (summary, _) = await RunBulkAsync(directory, IdOnlyFile(["user-1", "typo"]), requireExisting: true);

        Assert.Equal((1L, 1L, 0L), (summary.Granted, summary.Rejected, summary.Unchecked));
        Assert.Equal(2, _polar.FindCalls);
    }

    [Fact]
    public async Task Rows_with_emails_sweep_an_organization_of_any_size_when_that_is_cheaper_than_a_create_each()
    {
        AddCustomers(LargeOrganization);
        var directory = Directory_();
        var rows = string.Concat(Enumerable.Range(0, 100).Select(i => $"user-{i},user{i}@example.com,5\n"));

        var (summary, _) = await RunBulkAsync(directory, "external_customer_id,email,units\n" + rows);

        Assert.Equal((100L, 0L), (summary.Granted, summary.Unchecked));
        Assert.Equal(0, _polar.CreateCalls);
        Assert.Equal(26, _polar.ListCalls);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(26)]
    public async Task A_sweep_stopped_at_any_page_continues_from_its_checkpoint(int failingPage)
    {
        AddCustomers(LargeOrganization);
        var gateway = new GatedGateway(_polar) { FailAtPage = failingPage };
        var directory = Directory_(gateway);

        await Assert.ThrowsAsync<IOException>(() => directory.SweepAsync());
        var stoppedAt = await _store.ReadSweepAsync();
        var before = gateway.ListCalls;
        var resumed = await directory.SweepAsync();

        Assert.True(resumed.Complete);
        Assert.Equal(LargeOrganization, _store.Count);
        Assert.NotNull((await _store.ReadSweepAsync()).CompletedAt);
        // Only the pages from the checkpoint on are read again (a checkpoint falls every SweepConcurrency pages).
        var resumeFrom = stoppedAt.ResumeFromPage ?? 1;
        Assert.True(resumeFrom > failingPage - 4 && resumeFrom <= failingPage, $"checkpoint at page {resumeFrom}, failure at {failingPage}");
        Assert.Equal(26 - resumeFrom + 1, gateway.ListCalls - before);
        Assert.Null((await _store.ReadSweepAsync()).SweepingUntil); // the claim is given back
    }

    [Fact]
    public async Task A_sweep_in_slices_reads_each_page_once_and_completes_over_several_calls()
    {
        AddCustomers(LargeOrganization);
        var directory = Directory_();

        var slices = new List<CustomerSweep>();
        while (await directory.ContinueSweepAsync(maxPages: 10) is { } slice)
        {
            slices.Add(slice);
        }

        Assert.Equal([false, false, true], slices.Select(s => s.Complete));
        Assert.Equal([10, 20, 26], slices.Select(s => s.PagesRead));
        Assert.Equal(26, _polar.ListCalls);
        Assert.Equal(LargeOrganization, _store.Count);
        Assert.NotNull(await directory.SweptAtAsync());
    }

    [Fact]
    public async Task A_sweep_reports_its_progress_in_pages()
    {
        AddCustomers(LargeOrganization);
        var reports = new List<CustomerSweepProgress>();

        await Directory_().SweepAsync(progress: new SyncProgress(reports.Add));

        Assert.Equal(new CustomerSweepProgress(26, 26), reports[^1]);
        Assert.Equal(reports.Select(r => r.PagesRead).Order(), reports.Select(r => r.PagesRead));
    }

    [Fact]
    public async Task A_sweep_is_background_traffic_even_when_interactive_work_starts_it_so_the_interactive_share_stays_free()
    {
        AddCustomers(LargeOrganization);
        var gateway = new GatedGateway(_polar);
        var directory = Directory_(gateway);

        using (CreditGrants.Polar.Budget.PolarTraffic.Interactive())
        {
            Assert.Equal(SweepOutcome.Complete, await directory.SweepIfCheaperAsync(expectedLookups: 1_000));
            Assert.True(CreditGrants.Polar.Budget.PolarTraffic.IsInteractive); // the caller's flow is as it was
        }

        Assert.Equal(26, gateway.ListCalls);
        Assert.Equal(26, gateway.BackgroundListCalls); // the count's page and every page of the sweep
    }

    private sealed class SyncProgress(Action<CustomerSweepProgress> report) : IProgress<CustomerSweepProgress>
    {
        public void Report(CustomerSweepProgress value) => report(value);
    }
}

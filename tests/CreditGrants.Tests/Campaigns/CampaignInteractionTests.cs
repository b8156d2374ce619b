using System.Text.Json.Nodes;
using CreditGrants.Bulk;
using CreditGrants.Campaigns;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Moq;
using static CreditGrants.Tests.Campaigns.CampaignJson;

namespace CreditGrants.Tests.Campaigns;

/// <summary>What the runner asks of Polar, and what it must not.</summary>
public sealed class CampaignInteractionTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 8, 3, 0, TimeSpan.Zero));
    private readonly Mock<IPolarGateway> _polar = new(MockBehavior.Strict);
    private readonly Customers.InMemoryCustomerDirectoryStore _directoryStore = new();

    private Customers.CustomerDirectory _directory => TestDirectory.Create(_polar.Object, _time, _directoryStore);
    private readonly string _stateDirectory = Path.Combine(Path.GetTempPath(), "campaign-state-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_stateDirectory))
        {
            Directory.Delete(_stateDirectory, recursive: true);
        }
    }

    private CampaignRunner Runner() => new(new BulkChunkProcessor(_polar.Object, _directory, _time, NullLogger<BulkChunkProcessor>.Instance), _polar.Object,
        new CampaignAudienceReader(_polar.Object, _directory), _time, NullLogger<CampaignRunner>.Instance);

    private static Campaign Campaign()
    {
        var document = Weekly();
        document["startsAt"] = "2026-12-01T00:00:00Z";
        document["budget"] = new JsonObject { ["maxGrants"] = 10 };
        return Valid(document);
    }

    [Fact]
    public async Task Preview_lists_the_audience_and_sends_no_ingest_request()
    {
        var customer = new Customer(Guid.NewGuid(), "ada@lovelace.dev", null, "user-1", "individual", _time.GetUtcNow().AddDays(-1), null, null);
        _polar.Setup(p => p.ListCustomersAsync(It.IsAny<CustomerListQuery>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(new PolarPage<Customer>([customer], new PolarPagination(1, 1)));
        var store = new FileCampaignStateStore(_stateDirectory);

        var preview = await Runner().PreviewAsync(Campaign(), store, _time.GetUtcNow(), 3);

        Assert.Equal(1, preview.AudienceSize);
        Assert.Equal(100m, preview.UnitsPerOccurrence);
        _polar.Verify(p => p.IngestAsync(It.IsAny<IReadOnlyList<PolarEvent>>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.False(Directory.Exists(_stateDirectory));
    }

    [Fact]
    public async Task Exhausted_campaign_calls_Polar_no_more()
    {
        var store = new FileCampaignStateStore(_stateDirectory);
        await store.TryWriteAsync(CampaignState.New("weekly-free") with { Exhausted = true, Grants = 10, UnitsGranted = 1_000 }, null);

        var result = await Runner().RunAsync(Campaign(), store, _time.GetUtcNow());

        Assert.Empty(result.Occurrences);
        Assert.True(result.Budget.Exhausted);
        _polar.VerifyNoOtherCalls();
    }
}

/// <summary>What the runner hands its grant sink (the app's bulk jobs): exactly the due occurrences.</summary>
public sealed class CampaignSinkInteractionTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 29, 10, 0, 0, TimeSpan.Zero));
    private readonly FakePolarGateway _polar = new();
    private readonly Customers.InMemoryCustomerDirectoryStore _directoryStore = new();

    private Customers.CustomerDirectory _directory => TestDirectory.Create(_polar, _time, _directoryStore);
    private readonly string _stateDirectory = Path.Combine(Path.GetTempPath(), "campaign-state-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_stateDirectory))
        {
            Directory.Delete(_stateDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Run_enqueues_exactly_the_due_occurrences_and_reserves_their_grants()
    {
        _polar.AddCustomer("ada@lovelace.dev", "user-1");
        var document = Weekly();
        document["audience"] = new JsonObject { ["allCustomers"] = new JsonObject() };
        document["startsAt"] = "2026-12-01T00:00:00Z";
        document["catchUp"] = 2;
        var campaign = Valid(document);
        var sink = new Mock<ICampaignGrantSink>(MockBehavior.Strict);
        sink.Setup(s => s.GrantAsync(campaign, It.IsAny<string>(), It.IsAny<IReadOnlyList<BulkRow>>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((ChunkResult?)null);
        sink.Setup(s => s.CompleteOccurrenceAsync(campaign, It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((Campaign _, string occurrence, CancellationToken _) => "job-" + occurrence);
        var store = new FileCampaignStateStore(_stateDirectory);
        var runner = new CampaignRunner(new BulkChunkProcessor(_polar, _directory, _time, NullLogger<BulkChunkProcessor>.Instance), _polar,
            new CampaignAudienceReader(_polar, _directory), _time, NullLogger<CampaignRunner>.Instance);

        // 7, 14, 21 and 28 December are due; catchUp 2 runs the last two.
        var result = await runner.RunAsync(campaign, store, _time.GetUtcNow(), new CampaignRunOptions(sink.Object));

        sink.Verify(s => s.GrantAsync(campaign, "2026-12-21T08:00:00Z", It.Is<IReadOnlyList<BulkRow>>(r => r.Count == 1), It.IsAny<CancellationToken>()), Times.Once);
        sink.Verify(s => s.GrantAsync(campaign, "2026-12-28T08:00:00Z", It.Is<IReadOnlyList<BulkRow>>(r => r.Count == 1), It.IsAny<CancellationToken>()), Times.Once);
        sink.Verify(s => s.CompleteOccurrenceAsync(campaign, "2026-12-21T08:00:00Z", It.IsAny<CancellationToken>()), Times.Once);
        sink.Verify(s => s.CompleteOccurrenceAsync(campaign, "2026-12-28T08:00:00Z", It.IsAny<CancellationToken>()), Times.Once);
        sink.VerifyNoOtherCalls();
        Assert.Empty(_polar.Ingested);
        Assert.Equal(2, result.SkippedOccurrences);
        var state = (await store.ReadAsync(campaign.Id)).State;
        Assert.Equal(["job-2026-12-21T08:00:00Z", "job-2026-12-28T08:00:00Z"], state.PendingJobs.Select(p => p.JobId));
        Assert.Equal(2, state.GrantsReserved);
    }
}

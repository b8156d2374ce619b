using System.Text.Json;
using CreditGrants.Customers;
using CreditGrants.Webhooks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Tests.Webhooks;

/// <summary>The customer directory fed by customer.* webhooks (issue #21, item 4), without a request to Polar.</summary>
public sealed class CustomerDirectoryWebhookHandlerTests
{
    private static readonly Guid Id = Guid.Parse("3fa85f64-5717-4562-b3fc-2c963f66afa6");
    private static readonly DateTimeOffset Created = new(2026, 12, 6, 5, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Created.AddMinutes(1));
    private readonly InMemoryCustomerDirectoryStore _store = new();
    private readonly FakePolarGateway _polar = new();

    private CustomerDirectory Directory(TimeSpan? trustFor = null) => new(_store, _polar, _time,
        Options.Create(new CustomerDirectoryOptions { TrustFor = trustFor ?? TimeSpan.FromHours(1) }), NullLogger<CustomerDirectory>.Instance);

    private async Task HandleAsync(string type, string? externalId = "user-42", DateTimeOffset? modified = null, DateTimeOffset? deleted = null,
        CustomerDirectory? directory = null)
    {
        var handler = new CustomerDirectoryWebhookHandler(directory ?? Directory(), NullLogger<CustomerDirectoryWebhookHandler>.Instance);
        Assert.True(handler.CanHandle(type));
        using var payload = JsonDocument.Parse(PolarWebhookPayloads.Customer(type, Id, externalId, "ada@credits.dev", Created, modified, deleted));
        await handler.HandleAsync(new PolarWebhookEvent(type, "msg_1", _time.GetUtcNow(), payload.RootElement), CancellationToken.None);
    }

    private async Task<CustomerDirectoryEntry?> EntryAsync(string externalId = "user-42") =>
        (await _store.FindAsync([externalId])).GetValueOrDefault(externalId);

    [Fact]
    public async Task A_created_customer_is_known_at_once_with_its_polar_id()
    {
        await HandleAsync("customer.created");

        var entry = await EntryAsync();
        Assert.Equal(new CustomerDirectoryEntry("user-42", Id, Created), entry);
        Assert.Contains("user-42", (IDictionary<string, CustomerDirectoryEntry>)await Directory().KnownAsync(["user-42"]));
        Assert.Equal((0, 0, 0), (_polar.FindCalls, _polar.CreateCalls, _polar.ListCalls));
    }

    [Fact]
    public async Task An_update_confirms_the_entry_again()
    {
        await HandleAsync("customer.created");
        _time.Advance(TimeSpan.FromMinutes(50));

        await HandleAsync("customer.updated", modified: Created.AddMinutes(40));

        Assert.Equal(Created.AddMinutes(40), (await EntryAsync())!.ConfirmedAt);
    }

    [Fact]
    public async Task A_delivery_that_arrives_late_vouches_for_the_customer_only_as_of_its_event_time()
    {
        // Polar retried it for two hours; the directory trusts entries for one.
        _time.Advance(TimeSpan.FromHours(2));

        await HandleAsync("customer.created");

        Assert.Equal(Created, (await EntryAsync())!.ConfirmedAt);
        Assert.Empty(await Directory().KnownAsync(["user-42"]));
    }

    [Fact]
    public async Task An_update_that_gives_an_external_id_makes_the_customer_known()
    {
        await HandleAsync("customer.created", externalId: null);
        Assert.Null(await EntryAsync());

        await HandleAsync("customer.updated", modified: Created.AddMinutes(1));

        Assert.Equal(Id, (await EntryAsync())!.CustomerId);
    }

    [Fact]
    public async Task A_deleted_customer_is_forgotten_at_once()
    {
        await HandleAsync("customer.created");

        await HandleAsync("customer.deleted", modified: Created, deleted: Created.AddMinutes(2));

        Assert.Null(await EntryAsync());
        Assert.Empty(await Directory().KnownAsync(["user-42"]));
    }

    [Fact]
    public async Task With_the_directory_off_nothing_is_recorded()
    {
        await HandleAsync("customer.created", directory: Directory(TimeSpan.Zero));

        Assert.Null(await EntryAsync());
    }

    [Theory]
    [InlineData("customer.state_changed")]
    [InlineData("order.paid")]
    [InlineData("subscription.cycled")]
    public void Other_events_are_not_its_own(string type)
    {
        Assert.False(new CustomerDirectoryWebhookHandler(Directory(), NullLogger<CustomerDirectoryWebhookHandler>.Instance).CanHandle(type));
    }
}

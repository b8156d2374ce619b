using System.Text.Json;
using CreditGrants.Webhooks;

namespace CreditGrants.Tests.Webhooks;

/// <summary>Which object an event is about and how recent its state is, the key out-of-order updates are ordered by.</summary>
public sealed class PolarObjectVersionTests
{
    private static readonly Guid Id = Guid.Parse("992fae2a-2a17-4b7a-8d9e-e287cf90131b");
    private static readonly DateTimeOffset Created = new(2026, 12, 6, 5, 0, 0, TimeSpan.Zero);

    private static PolarObjectVersion? Of(string type, string body)
    {
        using var document = JsonDocument.Parse(body);
        return PolarObjectVersion.Of(type, document.RootElement);
    }

    [Fact]
    public void A_new_customer_is_at_its_creation()
    {
        var body = PolarWebhookPayloads.Customer("customer.created", Id, "user-1", "a@credits.dev", Created);

        Assert.Equal(new PolarObjectVersion("customer", Id.ToString(), Created), Of("customer.created", body));
    }

    [Fact]
    public void An_updated_customer_is_at_its_modification()
    {
        var modified = Created.AddMinutes(5).AddTicks(10);
        var body = PolarWebhookPayloads.Customer("customer.updated", Id, "user-1", "a@credits.dev", Created, modified);

        Assert.Equal(modified, Of("customer.updated", body)!.Version);
    }

    [Fact]
    public void A_deleted_customer_is_at_its_deletion_when_that_is_later_than_its_last_change()
    {
        var deleted = Created.AddMinutes(9);
        var body = PolarWebhookPayloads.Customer("customer.deleted", Id, "user-1", "a@credits.dev", Created, Created.AddMinutes(5), deleted);

        Assert.Equal(deleted, Of("customer.deleted", body)!.Version);
    }

    [Fact]
    public void A_customers_state_is_an_object_of_its_own_kind()
    {
        var body = PolarWebhookPayloads.Customer("customer.state_changed", Id, "user-1", "a@credits.dev", Created);

        Assert.Equal("customer_state", Of("customer.state_changed", body)!.Kind);
        Assert.Equal("order", Of("order.paid", """{"type":"order.paid","data":{"id":"o1","created_at":"2026-12-06T05:00:00Z"}}""")!.Kind);
        Assert.Equal("benefit_grant", Of("benefit_grant.cycled", """{"type":"benefit_grant.cycled","data":{"id":"b1"}}""")!.Kind);
    }

    [Fact]
    public void Data_without_an_id_names_no_object_and_data_without_times_has_no_version()
    {
        Assert.Null(Of("customer.created", """{"type":"customer.created","data":{"email":"x"}}"""));
        Assert.Null(Of("customer.created", """{"type":"customer.created","data":[]}"""));
        Assert.Null(Of("order.paid", """{"type":"order.paid","data":{"id":"o1","created_at":"yesterday"}}""")!.Version);
    }
}

/// <summary>Which configured secrets count: never an unresolved Key Vault reference, whose text anyone can read.</summary>
public sealed class WebhookSecretsTests
{
    [Fact]
    public void Empty_values_and_unresolved_key_vault_references_are_not_secrets()
    {
        var usable = WebhookSecrets.Usable(
            [" whsec_a ", "", null, "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/polar-webhook-secret/)", "whsec_b"], out var unresolved);

        Assert.Equal(["whsec_a", "whsec_b"], usable);
        Assert.Equal(1, unresolved);
    }
}

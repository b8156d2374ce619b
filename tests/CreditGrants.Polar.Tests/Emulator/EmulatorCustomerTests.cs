using CreditGrants.Polar.Models;

namespace CreditGrants.Polar.Tests.Emulator;

/// <summary>Customers against the emulator, over HTTP through the real pipeline.</summary>
public sealed class EmulatorCustomerTests
{
    [Fact]
    public async Task Created_customer_is_read_back_by_id()
    {
        await using var polar = await EmulatorHost.StartAsync();

        var created = await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", "Ada Lovelace", "user-1"));
        var read = await polar.Gateway.GetCustomerAsync(created.Id);

        Assert.Equal(created.Id, read.Id);
        Assert.Equal("ada@lovelace.dev", read.Email);
        Assert.Equal("Ada Lovelace", read.Name);
        Assert.Equal("user-1", read.ExternalId);
    }

    [Fact]
    public async Task Created_customer_is_found_by_external_id()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var created = await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", ExternalId: "ada lovelace #1"));

        var found = await polar.Gateway.FindCustomerByExternalIdAsync("ada lovelace #1");

        Assert.Equal(created.Id, found?.Id);
    }

    [Fact]
    public async Task External_id_lookup_is_case_sensitive()
    {
        await using var polar = await EmulatorHost.StartAsync();
        await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", ExternalId: "user-a"));

        Assert.Null(await polar.Gateway.FindCustomerByExternalIdAsync("USER-A"));
    }

    [Fact]
    public async Task Customer_is_found_by_email_whatever_its_case()
    {
        await using var polar = await EmulatorHost.StartAsync();
        var created = await polar.Gateway.CreateCustomerAsync(new CustomerCreate("Ada@Lovelace.dev"));
        await polar.Gateway.CreateCustomerAsync(new CustomerCreate("grace@hopper.dev"));

        var found = await polar.Gateway.FindCustomerByEmailAsync("ada@lovelace.dev");

        Assert.Equal(created.Id, found?.Id);
    }

    [Fact]
    public async Task Unknown_customer_id_is_not_found()
    {
        await using var polar = await EmulatorHost.StartAsync();

        var failure = await Assert.ThrowsAsync<PolarException>(() => polar.Gateway.GetCustomerAsync(Guid.NewGuid()));

        Assert.Equal(PolarErrorKind.NotFound, failure.Kind);
    }

    [Fact]
    public async Task Unknown_external_id_gives_null()
    {
        await using var polar = await EmulatorHost.StartAsync();

        Assert.Null(await polar.Gateway.FindCustomerByExternalIdAsync("nobody"));
    }

    [Fact]
    public async Task Email_taken_in_another_case_is_a_conflict_on_the_email()
    {
        await using var polar = await EmulatorHost.StartAsync();
        await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev"));

        var failure = await Assert.ThrowsAsync<PolarException>(() => polar.Gateway.CreateCustomerAsync(new CustomerCreate("ADA@lovelace.dev")));

        Assert.Equal(PolarErrorKind.Conflict, failure.Kind);
        Assert.Equal("body.email", Assert.Single(failure.Errors).Path);
    }

    [Fact]
    public async Task External_id_taken_is_a_conflict_on_the_external_id()
    {
        await using var polar = await EmulatorHost.StartAsync();
        await polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@lovelace.dev", ExternalId: "user-1"));

        var failure = await Assert.ThrowsAsync<PolarException>(() =>
            polar.Gateway.CreateCustomerAsync(new CustomerCreate("grace@hopper.dev", ExternalId: "user-1")));

        Assert.Equal(PolarErrorKind.Conflict, failure.Kind);
        Assert.Contains(failure.Errors, e => e.Path == "body.external_id");
    }

    [Fact]
    public async Task Undeliverable_email_is_a_validation_error_on_the_email()
    {
        await using var polar = await EmulatorHost.StartAsync();

        var failure = await Assert.ThrowsAsync<PolarException>(() => polar.Gateway.CreateCustomerAsync(new CustomerCreate("ada@example.com")));

        Assert.Equal(PolarErrorKind.Validation, failure.Kind);
        Assert.Equal("body.email", Assert.Single(failure.Errors).Path);
    }
}

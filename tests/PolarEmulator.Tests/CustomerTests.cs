using System.Net;
using PolarEmulator.Tests.Support;

namespace PolarEmulator.Tests;

/// <summary>Customers: validation, uniqueness, lookups, listing and pagination.</summary>
public sealed class CustomerTests(EmulatorFixture emulator) : IClassFixture<EmulatorFixture>
{
    private readonly HttpClient _client = emulator.Client;

    private static async Task<JsonIssue> SingleIssueAsync(HttpResponseMessage response, string error = "RequestValidationError")
    {
        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal(error, body.GetProperty("error").GetString());
        var issue = Assert.Single(body.GetProperty("detail").EnumerateArray());
        return new JsonIssue(issue.GetProperty("type").GetString()!, issue.GetProperty("loc").GetRawText(), issue.GetProperty("msg").GetString()!);
    }

    [Fact]
    public async Task Create_without_email_is_422_missing_on_body_email()
    {
        using var response = await _client.PostJsonAsync("v1/customers/", """{"name":"Ann"}""");

        Assert.Equal(new JsonIssue("missing", """["body","email"]""", "Field required"), await SingleIssueAsync(response));
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("ann@")]
    [InlineData("ann@nodot")]
    public async Task Create_with_malformed_email_is_422_value_error(string email)
    {
        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{email}}"}""");

        var issue = await SingleIssueAsync(response);
        Assert.Equal(("value_error", """["body","email"]"""), (issue.Type, issue.Loc));
    }

    [Theory]
    [InlineData("ann@example.com")]
    [InlineData("ann@example.org")]
    [InlineData("ann@example.net")]
    [InlineData("ann@mail.invalid")]
    [InlineData("ann@host.test")]
    [InlineData("ann@localhost")]
    public async Task Create_with_email_at_a_domain_that_takes_no_mail_is_422_like_polars_deliverability_check(string email)
    {
        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{email}}"}""");

        var issue = await SingleIssueAsync(response);
        Assert.Equal(("value_error", """["body","email"]"""), (issue.Type, issue.Loc));
        Assert.StartsWith("value is not a valid email address:", issue.Msg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_with_name_over_256_characters_is_422_string_too_long()
    {
        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{PolarHttp.UniqueEmail()}}","name":"{{new string('n', 257)}}"}""");

        Assert.Equal("string_too_long", (await SingleIssueAsync(response)).Type);
    }

    [Fact]
    public async Task Create_with_organization_id_is_422_organization_token()
    {
        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{PolarHttp.UniqueEmail()}}","organization_id":"{{emulator.Server.OrganizationId}}"}""");

        var issue = await SingleIssueAsync(response, "PolarRequestValidationError");
        Assert.Equal(("organization_token", """["body","organization_id"]"""), (issue.Type, issue.Loc));
    }

    [Fact]
    public async Task Create_with_invalid_metadata_value_is_422()
    {
        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{PolarHttp.UniqueEmail()}}","metadata":{"plan":""} }""");

        var issue = await SingleIssueAsync(response);
        Assert.Equal(("string_too_short", """["body","metadata","plan"]"""), (issue.Type, issue.Loc));
    }

    [Fact]
    public async Task External_id_is_trimmed()
    {
        var externalId = PolarHttp.UniqueId();

        var customer = await _client.CreateCustomerAsync(externalId: $"  {externalId} ");

        Assert.Equal(externalId, customer.GetProperty("external_id").GetString());
    }

    [Fact]
    public async Task Blank_external_id_means_none()
    {
        var customer = await _client.CreateCustomerAsync(externalId: "   ");

        Assert.Equal(System.Text.Json.JsonValueKind.Null, customer.GetProperty("external_id").ValueKind);
    }

    [Fact]
    public async Task Email_taken_in_another_case_is_422_already_exists()
    {
        var email = PolarHttp.UniqueEmail("ann");
        await _client.CreateCustomerAsync(email);

        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{email.ToUpperInvariant()}}"}""");

        var issue = await SingleIssueAsync(response, "PolarRequestValidationError");
        Assert.Equal(new JsonIssue("value_error", """["body","email"]""", "A customer with this email address already exists."), issue);
    }

    [Fact]
    public async Task External_id_taken_is_422_already_exists()
    {
        var externalId = PolarHttp.UniqueId();
        await _client.CreateCustomerAsync(externalId: externalId);

        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{PolarHttp.UniqueEmail()}}","external_id":"{{externalId}}"}""");

        var issue = await SingleIssueAsync(response, "PolarRequestValidationError");
        Assert.Equal(new JsonIssue("value_error", """["body","external_id"]""", "A customer with this external ID already exists."), issue);
    }

    [Fact]
    public async Task Email_and_external_id_both_taken_give_both_issues()
    {
        var email = PolarHttp.UniqueEmail();
        var externalId = PolarHttp.UniqueId();
        await _client.CreateCustomerAsync(email, externalId);

        using var response = await _client.PostJsonAsync("v1/customers/", $$"""{"email":"{{email}}","external_id":"{{externalId}}"}""");

        var body = await response.ExpectAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal(["""["body","email"]""", """["body","external_id"]"""],
            body.GetProperty("detail").EnumerateArray().Select(i => i.GetProperty("loc").GetRawText()).ToArray());
    }

    [Fact]
    public async Task External_ids_differing_only_in_case_are_different_customers()
    {
        var externalId = PolarHttp.UniqueId("Usr");
        await _client.CreateCustomerAsync(externalId: externalId);

        var other = await _client.CreateCustomerAsync(externalId: externalId.ToLowerInvariant());
        using var lookup = await _client.GetAsync($"v1/customers/external/{externalId.ToUpperInvariant()}");

        Assert.Equal(externalId.ToLowerInvariant(), other.GetProperty("external_id").GetString());
        await lookup.ExpectAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Deleted_customer_frees_its_email_and_is_not_found()
    {
        var email = PolarHttp.UniqueEmail();
        var customer = await _client.CreateCustomerAsync(email);

        using var deleted = await _client.DeleteAsync($"v1/customers/{customer.Id()}");
        using var read = await _client.GetAsync($"v1/customers/{customer.Id()}");
        await _client.CreateCustomerAsync(email);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await read.ExpectAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task External_id_cannot_be_changed_once_set()
    {
        var customer = await _client.CreateCustomerAsync(externalId: PolarHttp.UniqueId());

        using var response = await _client.PatchJsonAsync($"v1/customers/{customer.Id()}", """{"external_id":"other"}""");

        Assert.Equal("""["body","external_id"]""", (await SingleIssueAsync(response, "PolarRequestValidationError")).Loc);
    }

    [Fact]
    public async Task List_by_email_matches_exactly_and_ignores_case()
    {
        var email = PolarHttp.UniqueEmail("bob");
        var customer = await _client.CreateCustomerAsync(email);
        await _client.CreateCustomerAsync("x" + email);

        using var response = await _client.GetAsync($"v1/customers/?email={Uri.EscapeDataString(email.ToUpperInvariant())}");

        var page = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(customer.Id(), Assert.Single(page.GetProperty("items").EnumerateArray()).Id());
    }

    [Fact]
    public async Task List_query_matches_email_substring_and_external_id_prefix()
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var byEmail = await _client.CreateCustomerAsync($"someone-{tag}@acme.io");
        var byExternalId = await _client.CreateCustomerAsync(externalId: $"{tag}-ext");
        await _client.CreateCustomerAsync(externalId: $"ext-{tag}");

        using var response = await _client.GetAsync($"v1/customers/?query={tag}&sorting=created_at");

        var page = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal([byEmail.Id(), byExternalId.Id()], page.GetProperty("items").EnumerateArray().Select(c => c.Id()).ToArray());
    }

    [Fact]
    public async Task List_sorts_newest_first_by_default()
    {
        var first = await _client.CreateCustomerAsync();
        var second = await _client.CreateCustomerAsync();

        using var response = await _client.GetAsync("v1/customers/?limit=2");

        var page = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal([second.Id(), first.Id()], page.GetProperty("items").EnumerateArray().Select(c => c.Id()).ToArray());
    }

    [Fact]
    public async Task List_with_unknown_sorting_is_422_on_query_sorting()
    {
        using var response = await _client.GetAsync("v1/customers/?sorting=size");

        Assert.Equal("""["query","sorting",0]""", (await SingleIssueAsync(response)).Loc);
    }

    [Fact]
    public async Task List_limit_is_silently_capped_at_100()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions());
        using var client = EmulatorFixture.ClientFor(server);
        for (var i = 0; i < 101; i++)
        {
            await client.CreateCustomerAsync();
        }

        using var response = await client.GetAsync("v1/customers/?limit=500");

        var page = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(100, page.GetProperty("items").GetArrayLength());
        Assert.Equal(101, page.GetProperty("pagination").GetProperty("total_count").GetInt32());
        Assert.Equal(2, page.GetProperty("pagination").GetProperty("max_page").GetInt32());
    }

    [Fact]
    public async Task List_defaults_to_ten_per_page_and_pages_from_one()
    {
        await using var server = await PolarEmulatorServer.StartAsync(new EmulatorOptions());
        using var client = EmulatorFixture.ClientFor(server);
        for (var i = 0; i < 12; i++)
        {
            await client.CreateCustomerAsync();
        }

        using var first = await client.GetAsync("v1/customers/");
        using var second = await client.GetAsync("v1/customers/?page=2");

        Assert.Equal(10, (await first.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").GetArrayLength());
        Assert.Equal(2, (await second.ExpectAsync(HttpStatusCode.OK)).GetProperty("items").GetArrayLength());
    }

    /// <summary>The parts of a validation issue a test compares.</summary>
    private sealed record JsonIssue(string Type, string Loc, string Msg);
}

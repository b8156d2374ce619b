using System.Text.Json.Nodes;
using CreditGrants.Campaigns;
using static CreditGrants.Tests.Campaigns.CampaignJson;

namespace CreditGrants.Tests.Campaigns;

public class CampaignValidatorTests
{
    [Fact]
    public void Valid_document_gives_a_campaign_with_defaults()
    {
        var campaign = Valid(Weekly());

        Assert.Equal("weekly-free", campaign.Id);
        Assert.Equal("API Calls", campaign.Meter);
        Assert.True(campaign.Enabled);
        Assert.Equal(1, campaign.CatchUp);
        Assert.Equal(GrantPolicy.EveryOccurrence, campaign.Policy);
        var audience = Assert.IsType<AllCustomersAudience>(campaign.Audience);
        Assert.Equal("free", audience.Metadata["plan"]);
        Assert.Equal("Europe/Berlin", campaign.Schedule.TimeZone.Id);
    }

    [Fact]
    public void Published_schema_is_the_one_embedded()
    {
        var published = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "campaign.schema.json"));

        Assert.Equal(published, CampaignValidator.SchemaText);
    }

    [Fact]
    public void Id_with_capitals_names_path_value_and_what_is_accepted()
    {
        var document = Weekly();
        document["id"] = "Weekly";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.id", error.Path);
        Assert.Equal("\"Weekly\"", error.Value);
        Assert.Contains("a-z, 0-9 and '-'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_field_is_refused_with_the_accepted_fields()
    {
        var document = Weekly();
        document["unit"] = 5;

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.unit", error.Path);
        Assert.Contains("accepted fields: $schema, id, description, meter, units", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_required_fields_are_named()
    {
        var error = Assert.Single(Errors("""{"id":"x","schedule":{"once":"2026-12-24T09:00:00Z"},"audience":{"newCustomers":{}}}"""));

        Assert.Equal("$", error.Path);
        Assert.Contains("units", error.Message, StringComparison.Ordinal);
        Assert.Contains("grantPolicy", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Schedule_with_both_cron_and_once_is_one_error_saying_the_two_shapes()
    {
        var document = Weekly();
        document["schedule"] = new JsonObject { ["cron"] = "0 9 * * MON", ["once"] = "2026-12-24T09:00:00Z" };

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.schedule", error.Path);
        Assert.Contains("{\"once\": \"2026-12-24T09:00:00+01:00\"}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Once_without_an_offset_is_refused()
    {
        var document = Weekly();
        document["schedule"] = new JsonObject { ["once"] = "2026-12-24T09:00:00" };

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.schedule.once", error.Path);
        Assert.Equal("\"2026-12-24T09:00:00\"", error.Value);
    }

    [Fact]
    public void Cron_with_four_fields_is_refused_with_its_field_count()
    {
        var document = Weekly();
        document["schedule"]!["cron"] = "0 9 * *";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.schedule.cron", error.Path);
        Assert.Equal("\"0 9 * *\"", error.Value);
        Assert.Contains("has 4 fields", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cron_that_Cronos_cannot_read_is_refused()
    {
        var document = Weekly();
        document["schedule"]!["cron"] = "0 25 * * MON";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.schedule.cron", error.Path);
        Assert.Contains("accepted", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Six_field_cron_has_seconds_first()
    {
        var document = Weekly();
        document["schedule"]!["cron"] = "30 0 9 * * MON";

        var campaign = Valid(document);

        var next = CampaignOccurrences.Next(campaign, new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), 1);
        Assert.Equal(new DateTimeOffset(2026, 12, 7, 8, 0, 30, TimeSpan.Zero), Assert.Single(next));
    }

    [Fact]
    public void Time_zone_must_be_an_IANA_name()
    {
        var document = Weekly();
        document["schedule"]!["timeZone"] = "Berlin";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.schedule.timeZone", error.Path);
        Assert.Contains("IANA", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void New_customers_needs_startsAt_and_oncePerCustomer()
    {
        var document = Weekly();
        document["audience"] = new JsonObject { ["newCustomers"] = new JsonObject() };

        var errors = Errors(document);

        Assert.Contains(errors, e => e.Path == "$.startsAt" && e.Message.Contains("required for the newCustomers", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == "$.grantPolicy" && e.Value == "\"everyOccurrence\"" && e.Message.Contains("oncePerCustomer", StringComparison.Ordinal));
    }

    [Fact]
    public void Window_must_end_after_it_starts()
    {
        var document = Weekly();
        document["startsAt"] = "2026-12-01T00:00:00Z";
        document["endsAt"] = "2026-11-01T00:00:00Z";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.endsAt", error.Path);
    }

    [Fact]
    public void Once_outside_the_window_never_occurs_and_is_refused()
    {
        var document = Weekly();
        document["schedule"] = new JsonObject { ["once"] = "2026-12-24T09:00:00+01:00" };
        document["endsAt"] = "2026-12-01T00:00:00Z";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.schedule", error.Path);
        Assert.Contains("no occurrence between startsAt and endsAt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void External_ids_over_ten_thousand_are_refused()
    {
        var document = Weekly();
        document["audience"] = new JsonObject { ["externalIds"] = new JsonArray([.. Enumerable.Range(0, 10_001).Select(i => (JsonNode)$"user-{i}")]) };

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.audience.externalIds", error.Path);
        Assert.Contains("10000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void External_id_with_blanks_is_named_by_its_index()
    {
        var document = Weekly();
        document["audience"] = new JsonObject { ["externalIds"] = new JsonArray("user-1", " user-2") };

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.audience.externalIds[1]", error.Path);
        Assert.Equal("\" user-2\"", error.Value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Units_must_be_positive(int units)
    {
        var document = Weekly();
        document["units"] = units;

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.units", error.Path);
        Assert.Contains("greater than 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Units_over_the_grant_limit_are_refused()
    {
        var document = Weekly();
        document["units"] = 2_000_000;

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.units", error.Path);
        Assert.Contains("units per grant", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Units_given_as_text_are_refused()
    {
        var document = Weekly();
        document["units"] = "100";

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.units", error.Path);
    }

    [Fact]
    public void Budget_smaller_than_one_grant_is_refused()
    {
        var document = Weekly();
        document["budget"] = new JsonObject { ["maxTotalUnits"] = 50 };

        var error = Assert.Single(Errors(document));

        Assert.Equal("$.budget.maxTotalUnits", error.Path);
    }

    [Fact]
    public void Duplicate_property_is_refused_as_ambiguous()
    {
        var errors = Errors("""{"id":"a","id":"b","units":1,"schedule":{"once":"2026-12-24T09:00:00Z"},"audience":{"externalIds":["x"]},"grantPolicy":"oncePerCustomer"}""");

        var error = Assert.Single(errors);
        Assert.Equal("$.id", error.Path);
        Assert.Contains("appears twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_that_is_not_JSON_says_where()
    {
        var error = Assert.Single(Errors("{\"id\": "));

        Assert.Contains("not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_sample_is_valid()
    {
        var samples = Directory.GetFiles(Path.Combine(RepositoryRoot(), "samples", "campaigns"), "*.json");

        Assert.NotEmpty(samples);
        foreach (var sample in samples)
        {
            var validation = Validator.Validate(File.ReadAllText(sample));
            Assert.True(validation.IsValid, $"{sample}: {string.Join("; ", validation.Errors)}");
        }
    }

    private static string RepositoryRoot() => Repository.Root;
}

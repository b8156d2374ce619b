using System.Text.Json.Nodes;
using CreditGrants.Campaigns;
using static CreditGrants.Tests.Campaigns.CampaignJson;

namespace CreditGrants.Tests.Campaigns;

/// <summary>Whole numbers as the published schema (JSON Schema) counts them: 2 and 2.0 alike; 2.5 refused in plain words.</summary>
public sealed class CampaignWholeNumberTests
{
    [Fact]
    public void Max_grants_and_catch_up_written_as_2_0_are_read_as_2()
    {
        var document = Weekly();
        document["budget"] = JsonNode.Parse("""{"maxGrants": 2.0}""");
        document["catchUp"] = JsonNode.Parse("3.0");

        var campaign = Valid(document);

        Assert.Equal(2, campaign.Budget.MaxGrants);
        Assert.Equal(3, campaign.CatchUp);
    }

    [Fact]
    public void A_fraction_where_a_whole_number_belongs_is_refused_without_naming_a_dotnet_type()
    {
        var document = Weekly();
        document["budget"] = JsonNode.Parse("""{"maxGrants": 2.5}""");

        var errors = Errors(document);

        var error = Assert.Single(errors);
        Assert.StartsWith("$.budget.maxGrants", error.Path, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Int64", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_whole_number_beyond_the_range_is_refused_in_plain_words()
    {
        var document = Weekly();
        document["budget"] = JsonNode.Parse("""{"maxGrants": 1e20}""");

        var error = Assert.Single(Errors(document));

        Assert.Contains("whole number", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error.ToString(), StringComparison.Ordinal);
    }
}

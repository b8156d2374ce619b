using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Unit;

public sealed class GrantTargetTests
{
    private static Meter MeterWith(MeterFilter filter, MeterAggregation aggregation, string name = "API Calls") =>
        new(Guid.NewGuid(), name, filter, aggregation, TestEvents.Now.AddDays(-30));

    private static MeterFilterClause Clause(string property, string op, string valueJson) => new(property, op, TestEvents.Raw(valueJson));

    [Fact]
    public void Sum_meter_yields_the_event_name_and_summed_property()
    {
        var meter = MeterWith(MeterFilter.NameEquals("api_usage"), MeterAggregation.Sum("units"));

        var target = GrantTarget.From(meter);

        Assert.Equal("api_usage", target.EventName);
        Assert.Equal("units", target.Property);
        Assert.Same(meter, target.Meter);
    }

    [Fact]
    public void Metadata_prefix_is_stripped_from_the_summed_property()
    {
        var meter = MeterWith(MeterFilter.NameEquals("api_usage"), MeterAggregation.Sum("metadata.units"));

        Assert.Equal("units", GrantTarget.From(meter).Property);
    }

    [Fact]
    public void Event_name_is_found_inside_a_nested_and_filter()
    {
        var filter = new MeterFilter("and", [Clause("tier", "eq", "\"pro\""), new MeterFilter("and", [Clause("name", "eq", "\"llm_tokens\"")])]);

        Assert.Equal("llm_tokens", GrantTarget.From(MeterWith(filter, MeterAggregation.Sum("tokens"))).EventName);
    }

    [Fact]
    public void Count_meter_is_refused_as_not_summable()
    {
        var meter = MeterWith(MeterFilter.NameEquals("api_usage"), new MeterAggregation("count"));

        var refusal = Assert.Throws<MeterNotGrantableException>(() => GrantTarget.From(meter));

        Assert.Equal(MeterProblem.NotSummable, refusal.Problem);
        Assert.Equal("API Calls", refusal.MeterName);
        Assert.Contains("count", refusal.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("max")]
    [InlineData("avg")]
    [InlineData("unique")]
    public void Other_property_aggregations_are_refused_as_not_summable(string func)
    {
        var meter = MeterWith(MeterFilter.NameEquals("api_usage"), new MeterAggregation(func, "units"));

        Assert.Equal(MeterProblem.NotSummable, Assert.Throws<MeterNotGrantableException>(() => GrantTarget.From(meter)).Problem);
    }

    [Theory]
    [InlineData("timestamp")]
    [InlineData("_cost.amount")]
    public void Sum_over_a_column_or_nested_path_is_refused(string property)
    {
        var meter = MeterWith(MeterFilter.NameEquals("api_usage"), MeterAggregation.Sum(property));

        Assert.Equal(MeterProblem.NotSummable, Assert.Throws<MeterNotGrantableException>(() => GrantTarget.From(meter)).Problem);
    }

    [Fact]
    public void Filter_without_a_name_clause_is_refused()
    {
        var meter = MeterWith(new MeterFilter("and", [Clause("tier", "eq", "\"pro\"")]), MeterAggregation.Sum("units"));

        var refusal = Assert.Throws<MeterNotGrantableException>(() => GrantTarget.From(meter));

        Assert.Equal(MeterProblem.NoEventName, refusal.Problem);
    }

    [Fact]
    public void Name_clause_under_or_is_not_required_so_it_is_refused()
    {
        var filter = new MeterFilter("or", [Clause("name", "eq", "\"api_usage\""), Clause("name", "eq", "\"llm_tokens\"")]);

        var refusal = Assert.Throws<MeterNotGrantableException>(() => GrantTarget.From(MeterWith(filter, MeterAggregation.Sum("units"))));

        Assert.Equal(MeterProblem.NoEventName, refusal.Problem);
    }

    [Fact]
    public void Name_clause_with_another_operator_does_not_give_the_event_name()
    {
        var filter = new MeterFilter("and", [Clause("name", "like", "\"api\"")]);

        var refusal = Assert.Throws<MeterNotGrantableException>(() => GrantTarget.From(MeterWith(filter, MeterAggregation.Sum("units"))));

        Assert.Equal(MeterProblem.NoEventName, refusal.Problem);
    }

    [Fact]
    public void Admits_a_grant_event_of_the_derived_shape()
    {
        var target = GrantTarget.From(MeterWith(MeterFilter.NameEquals("api_usage"), MeterAggregation.Sum("units")));
        var grant = new PolarEvent(target.EventName, null, "customer-1", "grant-1", null,
            TestEvents.Metadata((target.Property, PolarMetadata.Number(-10))));

        var verdict = target.Admits(grant, TestEvents.Now);

        Assert.True(verdict.Matches, verdict.Reason);
    }

    [Fact]
    public void Admits_refuses_an_event_a_stricter_filter_would_not_count_and_names_the_clause()
    {
        var filter = new MeterFilter("and", [Clause("name", "eq", "\"api_usage\""), Clause("tier", "eq", "\"pro\"")]);
        var target = GrantTarget.From(MeterWith(filter, MeterAggregation.Sum("units")));
        var grant = new PolarEvent(target.EventName, null, "customer-1", "grant-1", null,
            TestEvents.Metadata((target.Property, PolarMetadata.Number(-10))));

        var verdict = target.Admits(grant, TestEvents.Now);

        Assert.False(verdict.Matches);
        Assert.Contains("tier eq \"pro\"", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Admits_compares_timestamps_against_now_when_the_event_has_none()
    {
        var cutoff = TestEvents.Now.ToUnixTimeSeconds();
        var filter = new MeterFilter("and",
            [Clause("name", "eq", "\"api_usage\""), new MeterFilterClause("timestamp", "gte", System.Text.Json.JsonSerializer.SerializeToElement(cutoff))]);
        var target = GrantTarget.From(MeterWith(filter, MeterAggregation.Sum("units")));
        var grant = new PolarEvent("api_usage", null, "customer-1", null, null, TestEvents.Metadata(("units", PolarMetadata.Number(-1))));

        Assert.True(target.Admits(grant, TestEvents.Now).Matches);
        Assert.False(target.Admits(grant, TestEvents.Now.AddSeconds(-1)).Matches);
    }
}

using System.Text.Json;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Unit;

public sealed class MeterFilterEvaluatorTests
{
    private static readonly DateTimeOffset At = new(2026, 4, 1, 10, 0, 0, TimeSpan.Zero);

    private static MeterEventFacts Event(string name = "api_usage", string source = "user", DateTimeOffset? timestamp = null,
        params (string Key, JsonElement Value)[] metadata) =>
        new(name, source, timestamp ?? At, TestEvents.Metadata(metadata));

    private static MeterFilterClause Clause(string property, string op, string valueJson) =>
        new(property, op, TestEvents.Raw(valueJson));

    private static MeterFilter And(params MeterFilterNode[] clauses) => new("and", clauses);

    private static MeterFilter Or(params MeterFilterNode[] clauses) => new("or", clauses);

    private static bool Matches(MeterFilterNode filter, MeterEventFacts facts) => MeterFilterEvaluator.Evaluate(filter, facts).Matches;

    [Fact]
    public void And_matches_only_when_every_clause_holds()
    {
        var filter = And(Clause("name", "eq", "\"api_usage\""), Clause("tier", "eq", "\"pro\""));

        Assert.True(Matches(filter, Event(metadata: ("tier", PolarMetadata.Text("pro")))));
        Assert.False(Matches(filter, Event(metadata: ("tier", PolarMetadata.Text("free")))));
    }

    [Fact]
    public void Or_matches_when_any_clause_holds()
    {
        var filter = Or(Clause("name", "eq", "\"other\""), Clause("tier", "eq", "\"pro\""));

        Assert.True(Matches(filter, Event(metadata: ("tier", PolarMetadata.Text("pro")))));
        Assert.False(Matches(filter, Event(metadata: ("tier", PolarMetadata.Text("free")))));
    }

    [Fact]
    public void Or_miss_names_every_clause_that_failed()
    {
        var filter = Or(Clause("name", "eq", "\"other\""), Clause("tier", "eq", "\"pro\""));

        var verdict = MeterFilterEvaluator.Evaluate(filter, Event(metadata: ("tier", PolarMetadata.Text("free"))));

        Assert.False(verdict.Matches);
        Assert.Contains("name eq \"other\"", verdict.Reason, StringComparison.Ordinal);
        Assert.Contains("tier eq \"pro\"", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_filters_combine_their_conjunctions()
    {
        // name = api_usage AND (tier = pro OR units > 100)
        var filter = And(Clause("name", "eq", "\"api_usage\""), Or(Clause("tier", "eq", "\"pro\""), Clause("units", "gt", "100")));

        Assert.True(Matches(filter, Event(metadata: [("tier", PolarMetadata.Text("pro")), ("units", PolarMetadata.Number(1))])));
        Assert.True(Matches(filter, Event(metadata: [("tier", PolarMetadata.Text("free")), ("units", PolarMetadata.Number(101))])));
        Assert.False(Matches(filter, Event(metadata: [("tier", PolarMetadata.Text("free")), ("units", PolarMetadata.Number(100))])));
        Assert.False(Matches(filter, Event(name: "other", metadata: ("tier", PolarMetadata.Text("pro")))));
    }

    [Theory]
    [InlineData("and")]
    [InlineData("or")]
    public void Empty_clause_list_matches_every_event(string conjunction)
    {
        var filter = new MeterFilter(conjunction, []);

        Assert.True(Matches(filter, Event(name: "anything")));
    }

    [Theory]
    [InlineData("eq", 5, true)]
    [InlineData("eq", 6, false)]
    [InlineData("ne", 6, true)]
    [InlineData("ne", 5, false)]
    [InlineData("gt", 4, true)]
    [InlineData("gt", 5, false)]
    [InlineData("gte", 5, true)]
    [InlineData("gte", 6, false)]
    [InlineData("lt", 6, true)]
    [InlineData("lt", 5, false)]
    [InlineData("lte", 5, true)]
    [InlineData("lte", 4, false)]
    public void Numeric_operators_compare_the_event_value_with_the_clause_value(string op, int clauseValue, bool expected)
    {
        var filter = And(Clause("units", op, clauseValue.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(expected, Matches(filter, Event(metadata: ("units", PolarMetadata.Number(5)))));
    }

    [Theory]
    [InlineData("eq", "beta", true)]
    [InlineData("ne", "beta", false)]
    [InlineData("gt", "alpha", true)]
    [InlineData("gte", "beta", true)]
    [InlineData("lt", "gamma", true)]
    [InlineData("lte", "alpha", false)]
    public void String_operators_compare_ordinally(string op, string clauseValue, bool expected)
    {
        var filter = And(new MeterFilterClause("plan", op, PolarMetadata.Text(clauseValue)));

        Assert.Equal(expected, Matches(filter, Event(metadata: ("plan", PolarMetadata.Text("beta")))));
    }

    [Theory]
    [InlineData("like", "gpt-4", true)]
    [InlineData("like", "GPT", false)]
    [InlineData("like", "claude", false)]
    [InlineData("not_like", "claude", true)]
    [InlineData("not_like", "gpt", false)]
    public void Like_is_a_case_sensitive_substring_test(string op, string clauseValue, bool expected)
    {
        var filter = And(new MeterFilterClause("model", op, PolarMetadata.Text(clauseValue)));

        Assert.Equal(expected, Matches(filter, Event(metadata: ("model", PolarMetadata.Text("openai/gpt-4o")))));
    }

    [Theory]
    [InlineData("eq", "true", true)]
    [InlineData("eq", "false", false)]
    [InlineData("ne", "false", true)]
    public void Boolean_clauses_compare_booleans(string op, string clauseValue, bool expected)
    {
        var filter = And(Clause("paid", op, clauseValue));

        Assert.Equal(expected, Matches(filter, Event(metadata: ("paid", PolarMetadata.Boolean(true)))));
    }

    [Theory]
    [InlineData("eq")]
    [InlineData("ne")]
    [InlineData("gte")]
    [InlineData("lte")]
    public void String_five_and_number_five_do_not_compare(string op)
    {
        var filter = And(Clause("units", op, "5"));

        Assert.False(Matches(filter, Event(metadata: ("units", PolarMetadata.Text("5")))));
    }

    [Fact]
    public void Number_clause_does_not_match_a_boolean_value()
    {
        var filter = And(Clause("paid", "eq", "1"));

        Assert.False(Matches(filter, Event(metadata: ("paid", PolarMetadata.Boolean(true)))));
    }

    [Theory]
    [InlineData("like")]
    [InlineData("not_like")]
    public void Like_operators_never_match_a_number(string op)
    {
        var filter = And(Clause("units", op, "\"5\""));

        Assert.False(Matches(filter, Event(metadata: ("units", PolarMetadata.Number(5)))));
    }

    [Fact]
    public void Metadata_prefix_names_the_same_property()
    {
        var prefixed = And(Clause("metadata.tier", "eq", "\"pro\""));
        var bare = And(Clause("tier", "eq", "\"pro\""));
        var facts = Event(metadata: ("tier", PolarMetadata.Text("pro")));

        Assert.True(Matches(prefixed, facts));
        Assert.True(Matches(bare, facts));
    }

    [Fact]
    public void MetadataKey_strips_the_metadata_prefix()
    {
        Assert.Equal("units", MeterFilterEvaluator.MetadataKey("metadata.units"));
        Assert.Equal("units", MeterFilterEvaluator.MetadataKey("units"));
    }

    [Theory]
    [InlineData("eq", "\"x\"")]
    [InlineData("ne", "\"x\"")]
    [InlineData("gt", "0")]
    [InlineData("gte", "0")]
    [InlineData("lt", "0")]
    [InlineData("lte", "0")]
    [InlineData("like", "\"x\"")]
    [InlineData("not_like", "\"x\"")]
    public void Missing_property_matches_no_operator(string op, string valueJson)
    {
        var filter = And(Clause("absent", op, valueJson));

        var verdict = MeterFilterEvaluator.Evaluate(filter, Event(metadata: ("present", PolarMetadata.Text("y"))));

        Assert.False(verdict.Matches);
        Assert.Contains("no such property", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Name_is_the_event_column_not_a_metadata_key()
    {
        var filter = And(Clause("name", "eq", "\"api_usage\""));

        Assert.True(Matches(filter, Event(name: "api_usage", metadata: ("name", PolarMetadata.Text("other")))));
        Assert.False(Matches(filter, Event(name: "other", metadata: ("name", PolarMetadata.Text("api_usage")))));
    }

    [Fact]
    public void Source_is_the_event_column()
    {
        var filter = And(Clause("source", "eq", "\"system\""));

        Assert.True(Matches(filter, Event(source: "system")));
        Assert.False(Matches(filter, Event(source: "user", metadata: ("source", PolarMetadata.Text("system")))));
    }

    [Fact]
    public void Timestamp_is_the_event_column_compared_as_epoch_seconds()
    {
        var cutoff = At.ToUnixTimeSeconds();
        var filter = And(new MeterFilterClause("timestamp", "gte", JsonSerializer.SerializeToElement(cutoff)));

        Assert.True(Matches(filter, Event(timestamp: At)));
        Assert.True(Matches(filter, Event(timestamp: At.AddSeconds(1))));
        Assert.False(Matches(filter, Event(timestamp: At.AddSeconds(-1))));
    }

    [Fact]
    public void Timestamp_compares_as_utc_iso_text_against_a_string_clause()
    {
        var filter = And(Clause("timestamp", "gte", "\"2026-04-01T10:00:00Z\""));

        Assert.True(Matches(filter, Event(timestamp: At)));
        Assert.False(Matches(filter, Event(timestamp: At.AddSeconds(-1))));
        // 11:00 at +02:00 is 09:00 UTC: before the cutoff, though its local text sorts after it.
        Assert.False(Matches(filter, Event(timestamp: new DateTimeOffset(2026, 4, 1, 11, 0, 0, TimeSpan.FromHours(2)))));
    }

    [Fact]
    public void Clause_on_a_nested_metadata_path_reads_inside_the_object()
    {
        var filter = And(Clause("_cost.currency", "eq", "\"usd\""));

        Assert.True(Matches(filter, Event(metadata: ("_cost", TestEvents.Raw("""{"amount":1,"currency":"usd"}""")))));
        Assert.False(Matches(filter, Event(metadata: ("_cost", TestEvents.Raw("""{"amount":1}""")))));
    }

    [Fact]
    public void And_miss_names_the_first_failing_clause_and_the_value_seen()
    {
        var filter = And(Clause("name", "eq", "\"api_usage\""), Clause("units", "gt", "10"));

        var verdict = MeterFilterEvaluator.Evaluate(filter, Event(metadata: ("units", PolarMetadata.Number(3))));

        Assert.False(verdict.Matches);
        Assert.Equal("clause units gt 10 does not hold (the event has 3)", verdict.Reason);
    }

    [Fact]
    public void Number_comparison_handles_floats_beyond_the_decimal_range()
    {
        // 1e30 is a valid JSON float in event metadata; the evaluator must give a verdict, not throw.
        var filter = And(Clause("units", "gt", "0"));

        var verdict = MeterFilterEvaluator.Evaluate(filter, Event(metadata: ("units", TestEvents.Raw("1e30"))));

        Assert.True(verdict.Matches);
    }
}

using System.Text.Json;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Models;
using CreditGrants.Polar.Tests.Support;

namespace CreditGrants.Polar.Tests.Unit;

public sealed class PolarEventRulesTests
{
    private static readonly DateTimeOffset Now = TestEvents.Now;

    private static PolarEvent Valid(IReadOnlyDictionary<string, JsonElement>? metadata = null) =>
        new("api_usage", null, "customer-1", "grant-1", Now.AddMinutes(-1), metadata ?? TestEvents.Metadata(("units", PolarMetadata.Number(-10))));

    private static string? Check(PolarEvent polarEvent) => PolarEventRules.Check(polarEvent, Now);

    private static PolarEvent WithMetadata(params (string Key, JsonElement Value)[] entries) => Valid(TestEvents.Metadata(entries));

    [Fact]
    public void Well_formed_event_passes()
    {
        Assert.Null(Check(Valid()));
    }

    [Fact]
    public void Name_of_128_characters_passes_and_129_is_refused()
    {
        Assert.Null(Check(Valid() with { Name = new string('n', 128) }));
        Assert.Contains("129", Check(Valid() with { Name = new string('n', 129) }), StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_name_is_refused()
    {
        Assert.NotNull(Check(Valid() with { Name = "" }));
    }

    [Fact]
    public void Event_with_both_customer_references_is_refused()
    {
        Assert.Contains("exactly one", Check(Valid() with { CustomerId = Guid.NewGuid() }), StringComparison.Ordinal);
    }

    [Fact]
    public void Event_with_no_customer_reference_is_refused()
    {
        Assert.Contains("exactly one", Check(Valid() with { ExternalCustomerId = null }), StringComparison.Ordinal);
    }

    [Fact]
    public void Event_with_only_a_customer_id_passes()
    {
        Assert.Null(Check(Valid() with { ExternalCustomerId = null, CustomerId = Guid.NewGuid() }));
    }

    [Fact]
    public void Empty_external_customer_id_is_refused()
    {
        Assert.NotNull(Check(Valid() with { ExternalCustomerId = "" }));
    }

    [Fact]
    public void Fifty_metadata_keys_pass_and_fifty_one_are_refused()
    {
        static PolarEvent WithKeys(int count) =>
            Valid(Enumerable.Range(0, count).ToDictionary(i => $"k{i}", _ => PolarMetadata.Number(1), StringComparer.Ordinal));

        Assert.Null(Check(WithKeys(50)));
        Assert.Contains("51 keys", Check(WithKeys(51)), StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_key_of_40_characters_passes_and_41_is_refused()
    {
        Assert.Null(Check(WithMetadata((new string('k', 40), PolarMetadata.Number(1)))));
        Assert.NotNull(Check(WithMetadata((new string('k', 41), PolarMetadata.Number(1)))));
    }

    [Fact]
    public void Empty_metadata_key_is_refused()
    {
        Assert.NotNull(Check(WithMetadata(("", PolarMetadata.Number(1)))));
    }

    [Fact]
    public void Metadata_string_of_1_to_500_characters_passes()
    {
        Assert.Null(Check(WithMetadata(("note", PolarMetadata.Text("x")))));
        Assert.Null(Check(WithMetadata(("note", PolarMetadata.Text(new string('x', 500))))));
    }

    [Fact]
    public void Empty_metadata_string_is_refused()
    {
        Assert.Contains("'note'", Check(WithMetadata(("note", PolarMetadata.Text("")))), StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_string_of_501_characters_is_refused()
    {
        Assert.Contains("501", Check(WithMetadata(("note", PolarMetadata.Text(new string('x', 501))))), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("-2.5")]
    [InlineData("true")]
    [InlineData("false")]
    public void Numbers_and_booleans_pass_as_metadata(string json)
    {
        Assert.Null(Check(WithMetadata(("value", TestEvents.Raw(json)))));
    }

    [Theory]
    [InlineData("""{"a":1}""")]
    [InlineData("[1,2]")]
    [InlineData("null")]
    public void Objects_arrays_and_null_are_refused_as_metadata(string json)
    {
        Assert.NotNull(Check(WithMetadata(("value", TestEvents.Raw(json)))));
    }

    [Theory]
    [InlineData("_cost", """{"amount":12,"currency":"usd"}""")]
    [InlineData("_llm", """{"vendor":"openai","model":"gpt-4o","input_tokens":1,"output_tokens":2,"total_tokens":3}""")]
    public void Reserved_cost_and_llm_keys_may_hold_objects(string key, string json)
    {
        Assert.Null(Check(WithMetadata((key, TestEvents.Raw(json)))));
    }

    [Fact]
    public void Nul_in_the_name_is_refused()
    {
        Assert.Contains("NUL", Check(Valid() with { Name = "api\0usage" }), StringComparison.Ordinal);
    }

    [Fact]
    public void Nul_in_the_external_id_is_refused()
    {
        Assert.Contains("NUL", Check(Valid() with { ExternalId = "grant\0-1" }), StringComparison.Ordinal);
    }

    [Fact]
    public void Nul_in_the_external_customer_id_is_refused()
    {
        Assert.Contains("NUL", Check(Valid() with { ExternalCustomerId = "customer\0" }), StringComparison.Ordinal);
    }

    [Fact]
    public void Nul_in_a_metadata_key_is_refused()
    {
        Assert.Contains("NUL", Check(WithMetadata(("no\0te", PolarMetadata.Number(1)))), StringComparison.Ordinal);
    }

    [Fact]
    public void Nul_in_a_metadata_string_is_refused()
    {
        Assert.Contains("NUL", Check(WithMetadata(("note", PolarMetadata.Text("a\0b")))), StringComparison.Ordinal);
    }

    [Fact]
    public void Timestamp_in_the_future_is_refused_without_allowance()
    {
        Assert.Contains("future", Check(Valid() with { Timestamp = Now.AddSeconds(1) }), StringComparison.Ordinal);
    }

    [Fact]
    public void Timestamp_now_or_in_the_past_passes()
    {
        Assert.Null(Check(Valid() with { Timestamp = Now }));
        Assert.Null(Check(Valid() with { Timestamp = Now.AddYears(-5) }));
    }

    [Fact]
    public void Missing_timestamp_passes()
    {
        Assert.Null(Check(Valid() with { Timestamp = null }));
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using CreditFunctions.Http;

namespace CreditFunctions.Tests;

/// <summary>One app and emulator for every corpus case: none of them may reach Polar.</summary>
public sealed class GrantBodyCorpusFixture : IAsyncLifetime
{
    internal App App { get; private set; } = null!;

    public async Task InitializeAsync() => App = await App.StartAsync();

    public async Task DisposeAsync() => await App.DisposeAsync();
}

/// <summary>
/// Malformed <c>POST /api/grants</c> bodies, kept in <c>Corpus/grant-bodies/cases.json</c> with the outcome each must have:
/// a 400 <c>invalid-request</c> whose first error names the field, the value as sent and what is accepted, and no request to Polar.
/// </summary>
public sealed class GrantBodyCorpusTests(GrantBodyCorpusFixture fixture) : IClassFixture<GrantBodyCorpusFixture>
{
    private static readonly string CorpusFile = Path.Combine(AppContext.BaseDirectory, "Corpus", "grant-bodies", "cases.json");

    private static JsonElement LoadCases()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(CorpusFile));
        return document.RootElement.GetProperty("cases").Clone();
    }

    public static TheoryData<string> CaseNames()
    {
        var names = new TheoryData<string>();
        foreach (var item in LoadCases().EnumerateArray())
        {
            names.Add(item.GetProperty("name").GetString()!);
        }

        return names;
    }

    private static byte[] BodyOf(JsonElement item) =>
        item.TryGetProperty("bodyBase64", out var encoded)
            ? Convert.FromBase64String(encoded.GetString()!)
            : Encoding.UTF8.GetBytes(item.GetProperty("body").GetString()!);

    private Task<ApiResponse> PostAsync(byte[] body) => fixture.App.Api.GrantAsync(new MemoryStream(body), null, CancellationToken.None);

    [Fact]
    public void The_corpus_holds_at_least_60_cases_with_distinct_names()
    {
        var names = LoadCases().EnumerateArray().Select(c => c.GetProperty("name").GetString()).ToList();

        Assert.True(names.Count >= 60, $"{names.Count} cases");
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task A_malformed_body_is_400_naming_field_value_and_what_is_accepted(string name)
    {
        var item = LoadCases().EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        var expect = item.GetProperty("expect");
        var polarRequests = fixture.App.Emulator.RequestCount;

        var response = await PostAsync(BodyOf(item));

        var body = JsonDocument.Parse(response.Body).RootElement;
        Assert.True((int)response.Status == expect.GetProperty("status").GetInt32(), Encoding.UTF8.GetString(response.Body));
        Assert.Equal(Problem.TypePrefix + expect.GetProperty("type").GetString(), body.GetProperty("type").GetString());
        var error = body.GetProperty("errors")[0];
        Assert.Equal(expect.GetProperty("field").GetString(), error.GetProperty("field").GetString());
        Assert.Contains(expect.GetProperty("contains").GetString()!, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        if (expect.TryGetProperty("value", out var value))
        {
            Assert.Equal(value.GetString(), error.GetProperty("value").GetString());
        }

        Assert.Contains(expect.GetProperty("field").GetString()!, body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(polarRequests, fixture.App.Emulator.RequestCount);
    }

    [Theory]
    [InlineData("""{"customer":{"externalId":"u-1"},"units":2.50,"grantId":"g-decimal"}""", 2.5)]
    [InlineData("""{"customer":{"externalId":"u-1"},"units":1e2,"grantId":"g-exponent"}""", 100)]
    [InlineData("""{"customer":{"externalId":"u-1","email":null},"units":5,"grantId":"g-null-email","reason":null}""", 5)]
    [InlineData("\uFEFF{\"customer\":{\"externalId\":\"u-1\"},\"units\":7,\"grantId\":\"g-bom\"}", 7)]
    [InlineData("""{"customer":{"externalId":"ren\u00e9"},"units":3,"grantId":"g-utf8"}""", 3)]
    public async Task Strictness_keeps_accepting_what_is_valid(string json, double units)
    {
        var response = await PostAsync(Encoding.UTF8.GetBytes(json));

        Assert.True(response.Status == HttpStatusCode.Created, Encoding.UTF8.GetString(response.Body));
        Assert.Equal((decimal)units, JsonDocument.Parse(response.Body).RootElement.GetProperty("units").GetDecimal());
    }
}

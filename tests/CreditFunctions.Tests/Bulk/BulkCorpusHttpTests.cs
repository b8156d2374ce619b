using System.Net;
using System.Text.Json;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using CreditGrants.Grants;
using CreditGrants.Testing;

namespace CreditFunctions.Tests.Bulk;

/// <summary>
/// Every file of the corpus (tests/Corpus/bulk) uploaded through <c>POST /api/bulk-grants</c> and run by the queue function
/// against Azurite and the emulator: the outcomes are those of <c>credits bulk run</c>. A file the CLI refuses (exit 2) is a
/// 400 <c>invalid-bulk-file</c> naming the same place, and starts no job.
/// </summary>
public sealed class BulkCorpusHttpTests : IAsyncLifetime
{
    private BulkApp _app = null!;

    public async Task InitializeAsync() => _app = await BulkApp.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    public static TheoryData<string> Files() => BulkCorpus.Names();

    [Theory]
    [MemberData(nameof(Files))]
    public async Task Each_corpus_file_ends_as_expected_through_the_upload_and_the_queue(string file)
    {
        var expected = BulkCorpus.Case(file);
        var request = new FakeHttpRequestData("POST", new Uri("https://app.example.net/api/bulk-grants?batch=corpus"),
            await File.ReadAllBytesAsync(expected.Path), [("Content-Type", "text/csv")]);

        var response = (FakeHttpResponseData)await new SubmitBulkGrants(_app.Api).Run(request, CancellationToken.None);

        var body = JsonDocument.Parse(response.BodyText).RootElement;
        if (expected.Exit == 2)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal(Problem.TypePrefix + "invalid-bulk-file", body.GetProperty("type").GetString());
            Assert.Contains(expected.Error!, body.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
            Assert.Empty((await _app.Store.Queue.PeekMessagesAsync(maxMessages: 1)).Value);
        }
        else
        {
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, response.BodyText);
            await _app.DrainAsync();
            var status = await _app.StatusAsync(body.GetProperty("jobId").GetString()!);
            expected.AssertRows(Csv.Results(await _app.ResultsAsync(status)));
        }

        foreach (var (customer, units) in expected.Balances ?? [])
        {
            if (units is null)
            {
                await Assert.ThrowsAsync<GrantException>(() => _app.BalanceAsync(customer));
            }
            else
            {
                Assert.Equal(units.Value, await _app.BalanceAsync(customer));
            }
        }
    }
}

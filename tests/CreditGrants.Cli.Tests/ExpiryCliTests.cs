using System.Text.Json;
using CreditGrants.Cli;
using Microsoft.Data.Sqlite;

namespace CreditGrants.Cli.Tests;

/// <summary><c>credits grant --expires-at/--expires-in</c> and <c>credits grants expire --due</c> on the embedded default, state in the data folder.</summary>
public sealed class ExpiryCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-expiry-").FullName;
    private static readonly Dictionary<string, string?> NoPolar = [];

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    [Fact]
    public async Task A_grant_that_expires_says_when_it_takes_effect_and_is_kept_in_the_data_folders_index()
    {
        var grant = await Credits("grant", "--customer", "user-1", "--units", "50", "--grant-id", "promo-1", "--expires-at", "2030-01-31T22:30:00+01:00");
        var json = await Credits("grant", "--customer", "user-1", "--units", "50", "--grant-id", "promo-1", "--expires-at", "2030-01-31T22:30:00+01:00", "--json");

        Assert.Equal(ExitCodes.Ok, grant.ExitCode);
        Assert.Contains("Expires at 2030-01-31T21:30:00Z, taking effect at 2030-01-31T22:00:00Z (expiries take effect at whole UTC hours).", grant.Out,
            StringComparison.Ordinal);
        Assert.Equal("2030-01-31T22:00:00Z", JsonDocument.Parse(json.Out).RootElement.GetProperty("expiryTakesEffectAt").GetString());
        var index = new SqliteExpiryIndex(Path.Combine(_dataDir, SqliteExpiryIndex.Folder, "embedded.db"));
        var entry = Assert.Single(await index.DueAsync(new DateTimeOffset(2030, 2, 1, 0, 0, 0, TimeSpan.Zero), 10));
        Assert.Equal(("promo-1", "user-1"), (entry.GrantId, entry.ExternalCustomerId));
    }

    [Theory]
    [InlineData("--expires-at", "2030-01-31", "--expires-at: expiresAt '2030-01-31': is a date without a time")]
    [InlineData("--expires-at", "2020-01-31T00:00:00Z", "is in the past")]
    [InlineData("--expires-in", "P1M", "--expires-in: expiresIn 'P1M': counts years or months")]
    public async Task A_bad_expiry_is_refused_before_Polar_naming_the_option(string option, string value, string message)
    {
        var run = await Credits("grant", "--customer", "user-1", "--units", "5", "--grant-id", "g", option, value);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dataDir, PolarConnection.EmulatorStateFile)));
    }

    [Fact]
    public async Task Expire_with_nothing_due_reports_none_as_one_json_object()
    {
        await Credits("grant", "--customer", "user-1", "--units", "5", "--grant-id", "later", "--expires-in", "P30D");

        var run = await Credits("grants", "expire", "--due", "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var body = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal((0, 0), (body.GetProperty("due").GetInt32(), body.GetProperty("expired").GetInt32()));
    }

    [Theory]
    [InlineData(new[] { "grants", "expire" }, "give --due")]
    [InlineData(new[] { "grants", "expire", "--due", "--at", "2999-01-01T00:00:00Z" }, "is in the future")]
    [InlineData(new[] { "grants", "expire", "--due", "--at", "yesterday" }, "--at 'yesterday': give an ISO 8601 date and time with its offset")]
    public async Task Expire_refuses_what_it_cannot_do_with_exit_code_2(string[] args, string message)
    {
        var run = await Credits(args);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
    }
}

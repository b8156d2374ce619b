using System.Text.Json;
using Azure;
using Azure.Identity;

namespace CreditGrants.Cli.Tests;

/// <summary>Without --verbose a failure is one line that says what to do, with the exit code scripts rely on.</summary>
public sealed class OneLineErrorTests : IDisposable
{
    // Azurite's well-known development key (public, in Microsoft's documentation), at a port where nothing listens.
    private const string NothingListening = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1";

    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-errors-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private static string OneLine(CliRun run) => Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    [Fact]
    public async Task Storage_that_is_not_running_fails_at_once_saying_to_start_azurite_with_exit_4()
    {
        var run = await CliRun.RunAsync(new Dictionary<string, string?>(), "bulk", "status", "0123", "--storage", NothingListening);

        Assert.Equal(ExitCodes.Unavailable, run.ExitCode);
        var line = OneLine(run);
        Assert.Contains("start Azurite with --skipApiVersionCheck", line, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("campaigns list")]
    [InlineData("campaigns status monthly-free-plan")]
    [InlineData("campaigns upload {sample}")]
    [InlineData("bulk run {csv}")]
    public async Task Storage_that_is_not_running_fails_campaign_and_run_commands_at_once_with_exit_4(string command)
    {
        var csv = Path.Combine(_dataDir, "one.csv");
        await File.WriteAllTextAsync(csv, "external_customer_id,units\nu-1,1\n");
        var args = command.Replace("{sample}", Path.Combine(AppContext.BaseDirectory, "campaigns", "monthly-free-plan.json"), StringComparison.Ordinal)
            .Replace("{csv}", csv, StringComparison.Ordinal).Split(' ');
        var started = System.Diagnostics.Stopwatch.StartNew();

        var run = await CliRun.RunAsync(new Dictionary<string, string?>(), [.. args, "--storage", NothingListening]);

        Assert.Equal(ExitCodes.Unavailable, run.ExitCode);
        Assert.Contains("start Azurite with --skipApiVersionCheck", OneLine(run), StringComparison.Ordinal);
        // The SDK's own retries take about 24 seconds; the probe answers in well under the SDK's first retry.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"took {started.Elapsed}");
    }

    [Theory]
    [InlineData("--polar-token", "polar_oat_secret_value")]
    [InlineData("--polar-token=polar_oat_secret_value")]
    public async Task A_token_on_the_command_line_points_to_the_token_file_and_is_never_repeated(params string[] token)
    {
        var run = await CliRun.RunAsync(new Dictionary<string, string?>(), ["balance", "--customer", "u", .. token]);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        var line = OneLine(run);
        Assert.Contains("--polar-token-file <file>", line, StringComparison.Ordinal);
        Assert.DoesNotContain("polar_oat_secret_value", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_balance_does_not_speak_of_grant_ids()
    {
        var environment = new Dictionary<string, string?>
        {
            [PolarConnection.ServerVariable] = "http://127.0.0.1:1/",
            [PolarConnection.TokenVariable] = "polar_oat_x",
            ["Polar__MaxRetries"] = "0",
        };

        var run = await CliRun.RunAsync(environment, "balance", "--customer", "u");

        Assert.Equal(ExitCodes.Unavailable, run.ExitCode);
        Assert.DoesNotContain("grant id", OneLine(run), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_polar_is_one_line_without_retry_logs_naming_the_server_option_with_exit_4()
    {
        var environment = new Dictionary<string, string?>
        {
            [PolarConnection.ServerVariable] = "http://127.0.0.1:1/",
            [PolarConnection.TokenVariable] = "polar_oat_secret_value",
            ["Polar__MaxRetries"] = "2",
            ["Polar__MaxRetryDelaySeconds"] = "1",
        };

        var run = await CliRun.RunAsync(environment, "balance", "--customer", "u");

        Assert.Equal(ExitCodes.Unavailable, run.ExitCode);
        var line = OneLine(run);
        Assert.Contains("could not be reached", line, StringComparison.Ordinal);
        Assert.Contains("--polar-server", line, StringComparison.Ordinal);
        Assert.DoesNotContain("polar_oat_secret_value", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_verbose_the_retries_are_logged()
    {
        var environment = new Dictionary<string, string?>
        {
            [PolarConnection.ServerVariable] = "http://127.0.0.1:1/",
            [PolarConnection.TokenVariable] = "polar_oat_x",
            ["Polar__MaxRetries"] = "1",
            ["Polar__MaxRetryDelaySeconds"] = "1",
        };

        var run = await CliRun.RunAsync(environment, "balance", "--customer", "u", "--verbose");

        Assert.Contains("Polly", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_azure_sign_in_is_one_line_saying_to_run_az_login()
    {
        var failure = new CredentialUnavailableException(
            "DefaultAzureCredential failed to retrieve a token from the included credentials.\n- EnvironmentCredential …\n- AzureCliCredential …");

        var (code, message) = CliErrors.Describe(failure);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.DoesNotContain('\n', message);
        Assert.Contains("run 'az login'", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Azurite_refusing_the_api_version_says_to_start_it_with_skip_api_version_check()
    {
        var refusal = new RequestFailedException(400, "The API version 2026-02-06 is not supported by Azurite.\nStatus: 400\nHeaders: …",
            "InvalidHeaderValue", null);

        var (code, message) = CliErrors.Describe(new AggregateException(refusal));

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("--skipApiVersionCheck", message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void A_storage_refusal_is_not_called_unexpected()
    {
        var refusal = new StorageRefusedException(CliErrors.Storage(new RequestFailedException(403, "denied", "AuthorizationPermissionMismatch", null)));

        var (code, message) = CliErrors.Describe(refusal);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.StartsWith("Azure Storage answered 403 AuthorizationPermissionMismatch: ", message, StringComparison.Ordinal);
        Assert.Contains("Data Contributor", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unexpected_error_is_its_first_line_and_points_at_verbose()
    {
        var (code, message) = CliErrors.Describe(new InvalidOperationException("Something broke.\nline two\nline three"));

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Equal("unexpected error: Something broke. Run again with --verbose for the details.", message);
    }
}

/// <summary>Every command behaves alike: --json, exit codes, Ctrl+C, mistakes on the command line, help.</summary>
public sealed class ConsistencyTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoPolar = [];

    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-consistency-").FullName;
    private readonly string _folder = Directory.CreateTempSubdirectory("credits-consistency-files-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_folder, recursive: true);
    }

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    private string CsvFile(int rows)
    {
        var path = Path.Combine(_folder, "grants.csv");
        File.WriteAllLines(path, ["external_customer_id,units", .. Enumerable.Range(1, rows).Select(i => $"user-{i},1")]);
        return path;
    }

    [Fact]
    public async Task Meters_ensure_with_json_prints_one_object()
    {
        var run = await Credits("meters", "ensure", "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var json = JsonDocument.Parse(Assert.Single(run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal("API Calls", json.GetProperty("meter").GetString());
        Assert.False(json.GetProperty("created").GetBoolean());
        Assert.Equal("api_usage", json.GetProperty("eventName").GetString());
        Assert.Equal("units", json.GetProperty("property").GetString());
        Assert.True(json.GetProperty("matches").GetBoolean());
    }

    [Fact]
    public async Task Meters_ensure_with_another_definition_than_the_existing_meter_says_it_differs()
    {
        var text = await Credits("meters", "ensure", "--event", "storage_used", "--property", "gb");
        var json = await Credits("meters", "ensure", "--event", "storage_used", "--property", "gb", "--json");

        Assert.Equal(ExitCodes.Ok, text.ExitCode);
        Assert.Contains("already exists with another definition", text.Out, StringComparison.Ordinal);
        Assert.Contains("sums 'units' over events named 'api_usage', not 'gb' over 'storage_used'", text.Out, StringComparison.Ordinal);
        Assert.False(JsonDocument.Parse(json.Out).RootElement.GetProperty("matches").GetBoolean());
    }

    [Fact]
    public async Task Bulk_run_with_an_unknown_meter_stops_before_the_first_row_with_exit_3()
    {
        var input = CsvFile(3);

        var run = await Credits("bulk", "run", input, "--meter", "Nope");

        Assert.Equal(ExitCodes.RefusedByPolar, run.ExitCode);
        Assert.Contains("No meter is named 'Nope'", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_folder, "grants.results.csv")));
        Assert.DoesNotContain("rejected", run.Error + run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_c_exits_130_saying_it_stopped()
    {
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await new CreditsCli(output, error, _ => null)
            .RunAsync(["grant", "--customer", "u", "--units", "1", "--grant-id", "g", "--data-dir", _dataDir], cancel.Token);

        Assert.Equal(ExitCodes.Interrupted, code);
        Assert.EndsWith("credits: stopped.", error.ToString().TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_c_during_a_bulk_run_exits_130_and_every_row_is_in_the_results_file()
    {
        var input = CsvFile(3);
        using var cancel = new CancellationTokenSource();
        using var error = new CancellingWriter("0 / 3 rows", cancel);
        using var output = new StringWriter();

        var code = await new CreditsCli(output, error, _ => null).RunAsync(["bulk", "run", input, "--data-dir", _dataDir], cancel.Token);

        Assert.Equal(ExitCodes.Interrupted, code);
        Assert.Contains("stopped after", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(_folder, "grants.results.csv")).Length);
    }

    [Theory]
    [InlineData("grnt", "unknown command 'grnt' for 'credits'; did you mean 'grant'?")]
    [InlineData("bulk stauts", "unknown command 'stauts' for 'credits bulk'; did you mean 'status'?")]
    [InlineData("grant --custmer u --units 1 --grant-id g", "unknown option '--custmer' for 'credits grant'; did you mean '--customer'?")]
    [InlineData("bulk", "'credits bulk' needs a command: run, submit, status, retry, revoke.")]
    [InlineData("--data-dir x balance --customer u", "'--data-dir' goes after the command's name: credits balance --data-dir ….")]
    public async Task A_mistyped_command_line_is_one_line_with_a_suggestion_and_exit_2(string line, string expected)
    {
        var run = await CliRun.RunAsync(NoPolar, line.Split(' '));

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        var error = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"credits: {expected}", error, StringComparison.Ordinal);
        Assert.Contains("--help' for usage.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_different_revocation_of_a_grant_is_refused_with_exit_3_and_the_reason_not_as_an_unexpected_error()
    {
        Assert.Equal(ExitCodes.Ok, (await Credits("grant", "--customer", "rv-1", "--email", "rv-1@credits.dev", "--units", "100", "--grant-id", "rv-g1")).ExitCode);
        Assert.Equal(ExitCodes.Ok, (await Credits("grants", "revoke", "rv-g1", "--units", "30")).ExitCode);

        var other = await Credits("grants", "revoke", "rv-g1", "--units", "40");

        Assert.Equal(ExitCodes.RefusedByPolar, other.ExitCode);
        var line = Assert.Single(other.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("credits: Grant 'rv-g1' was already revoked at", line, StringComparison.Ordinal);
        Assert.Contains("taking back 30 units", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("1.1234567")]
    public async Task Revoking_zero_or_fewer_units_is_refused_with_exit_2_before_polar_is_asked(string units)
    {
        var run = await CliRun.RunAsync(NoPolar, "grants", "revoke", "some-grant", "--units", units, "--data-dir", _dataDir);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.StartsWith($"credits: --units '{units}': must be a number above 0", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bulk status", false)]
    [InlineData("bulk submit", false)]
    [InlineData("bulk retry", false)]
    [InlineData("grant", true)]
    [InlineData("balance", true)]
    [InlineData("meters ensure", true)]
    [InlineData("bulk run", true)]
    [InlineData("grants expire", true)]
    public async Task Help_lists_the_polar_options_only_for_commands_that_talk_to_polar(string command, bool talksToPolar)
    {
        var run = await CliRun.RunAsync(NoPolar, [.. command.Split(' '), "--help"]);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        foreach (var option in new[] { "--polar-server", "--polar-token-file", "--data-dir" })
        {
            Assert.Equal(talksToPolar, run.Out.Contains(option, StringComparison.Ordinal));
        }

        Assert.Contains("--json", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_of_other_commands_are_refused()
    {
        var run = await CliRun.RunAsync(NoPolar, "bulk", "status", "0123", "--data-dir", _dataDir, "--storage", "UseDevelopmentStorage=true");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        // The owners are listed in command order; the list grows with the commands that talk to Polar.
        Assert.Matches("unknown option '--data-dir' for 'credits bulk status': it is an option of 'credits grant', 'credits balance', " +
            "('credits [a-z -]+', )*'credits customers sync', 'credits bulk run', ('credits [a-z -]+', )*after the command's name\\.", run.Error);
        Assert.DoesNotContain("'credits bulk status',", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("grant --customer u --units 1 --grant-id g")]
    [InlineData("balance --customer u")]
    [InlineData("meters ensure")]
    public async Task Json_prints_one_object_and_nothing_else_on_stdout(string command)
    {
        await Credits("grant", "--customer", "u", "--email", "u@lovelace.dev", "--units", "1", "--grant-id", "seed");

        var run = await Credits([.. command.Split(' '), "--json"]);

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var line = Assert.Single(run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(line).RootElement.ValueKind);
    }

    /// <summary>A captured stream that cancels a token once a given text is written to it, as Ctrl+C would at that moment.</summary>
    private sealed class CancellingWriter(string text, CancellationTokenSource cancel) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.Contains(text, StringComparison.Ordinal) == true)
            {
                cancel.Cancel();
            }
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }
    }
}

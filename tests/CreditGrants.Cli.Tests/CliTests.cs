using System.Text.Json;
using CreditGrants.Cli;
using PolarEmulator;

namespace CreditGrants.Cli.Tests;

/// <summary>Runs <c>credits</c> in-process with captured output and a chosen environment.</summary>
internal sealed record CliRun(int ExitCode, string Out, string Error)
{
    public static async Task<CliRun> RunAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var configuration = environment.Where(e => e.Key.Contains("__", StringComparison.Ordinal))
            .ToDictionary(e => e.Key.Replace("__", ":", StringComparison.Ordinal), e => e.Value);
        var code = await new CreditsCli(output, error, name => environment.GetValueOrDefault(name), configuration).RunAsync(args);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    /// <summary>The balance a <c>credits balance --json</c> run printed (the run must have succeeded).</summary>
    public decimal Balance()
    {
        Assert.True(ExitCode == ExitCodes.Ok, $"credits balance exited {ExitCode}: {Error}");
        return System.Text.Json.JsonDocument.Parse(Out).RootElement.GetProperty("balance").GetDecimal();
    }
}

/// <summary>A Polar that answers every request with a 5xx, and the environment that points <c>credits</c> at it without retries.</summary>
internal sealed class FailingPolar : IAsyncDisposable
{
    private readonly PolarEmulatorServer _server;

    private FailingPolar(PolarEmulatorServer server) => _server = server;

    public Dictionary<string, string?> Environment => new()
    {
        [PolarConnection.ServerVariable] = _server.BaseAddress.AbsoluteUri,
        [PolarConnection.TokenVariable] = _server.Token,
        ["Polar__MaxRetries"] = "0",
    };

    public static async Task<FailingPolar> StartAsync() => new(await PolarEmulatorServer.StartAsync(new EmulatorOptions
    {
        SeedMeter = true,
        Faults = new FaultOptions { Seed = 3, ErrorRate = 1.0 },
    }));

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

public sealed class EmbeddedDefaultTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("credits-test-").FullName;
    private static readonly Dictionary<string, string?> NoPolar = [];

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private Task<CliRun> Credits(params string[] args) => CliRun.RunAsync(NoPolar, [.. args, "--data-dir", _dataDir]);

    [Fact]
    public async Task A_grant_then_a_balance_shows_the_credits_across_runs()
    {
        var grant = await Credits("grant", "--customer", "user-42", "--email", "ada@lovelace.dev", "--units", "100", "--grant-id", "welcome-42");
        var balance = await Credits("balance", "--customer", "user-42", "--json");

        Assert.Equal(ExitCodes.Ok, grant.ExitCode);
        Assert.Contains("Granted 100 units to 'user-42'", grant.Out, StringComparison.Ordinal);
        Assert.Contains("embedded Polar emulator", grant.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, balance.ExitCode);
        Assert.Equal(100m, JsonDocument.Parse(balance.Out).RootElement.GetProperty("balance").GetDecimal());
        Assert.True(File.Exists(Path.Combine(_dataDir, PolarConnection.EmulatorStateFile)));
    }

    [Fact]
    public async Task The_same_grant_id_again_is_a_duplicate_with_exit_code_0()
    {
        string[] grant = ["grant", "--customer", "user-1", "--units", "5", "--grant-id", "g-1", "--json"];
        await Credits(grant);

        var again = await Credits(grant);

        Assert.Equal(ExitCodes.Ok, again.ExitCode);
        Assert.Equal("duplicate", JsonDocument.Parse(again.Out).RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Json_output_is_one_object_with_the_outcome_fields()
    {
        var run = await Credits("grant", "--customer", "user-7", "--email", "ada@lovelace.dev", "--units", "2.5", "--grant-id", "g-7", "--json");

        var json = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal("granted", json.GetProperty("status").GetString());
        Assert.Equal("g-7", json.GetProperty("grantId").GetString());
        Assert.True(json.GetProperty("customerCreated").GetBoolean());
        Assert.Equal(2.5m, json.GetProperty("units").GetDecimal());
        Assert.Equal("API Calls", json.GetProperty("meter").GetString());
        Assert.StartsWith("cg_", json.GetProperty("eventId").GetString(), StringComparison.Ordinal);
        Assert.NotEqual(JsonValueKind.Undefined, json.GetProperty("customerId").ValueKind);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("ten")]
    [InlineData("1.1234567")]
    public async Task Bad_units_exit_2_naming_the_option_and_value(string units)
    {
        var run = await Credits("grant", "--customer", "u", "--units", units, "--grant-id", "g");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains($"--units: units '{units}'", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("embedded Polar emulator", run.Error, StringComparison.Ordinal);
        Assert.Empty(run.Out);
    }

    [Fact]
    public async Task The_unit_limit_comes_from_the_environment()
    {
        var environment = new Dictionary<string, string?> { ["Grants__MaxUnitsPerGrant"] = "10" };

        var run = await CliRun.RunAsync(environment, "grant", "--customer", "u", "--units", "11", "--grant-id", "g", "--data-dir", _dataDir);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("over the limit of 10 units", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_required_option_exits_2()
    {
        var run = await Credits("grant", "--customer", "u", "--units", "5");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("--grant-id", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_meter_exits_3()
    {
        var run = await Credits("grant", "--customer", "u", "--units", "5", "--grant-id", "g", "--meter", "Nope");

        Assert.Equal(ExitCodes.RefusedByPolar, run.ExitCode);
        Assert.Contains("No meter is named 'Nope'", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verbose_shows_the_stack_trace()
    {
        var run = await Credits("grant", "--customer", "u", "--units", "5", "--grant-id", "g", "--meter", "Nope", "--verbose");

        Assert.Contains("   at ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Meters_ensure_creates_a_meter_once()
    {
        var first = await Credits("meters", "ensure", "--meter", "Storage GB", "--event", "storage", "--property", "gb");
        var second = await Credits("meters", "ensure", "--meter", "Storage GB", "--event", "storage", "--property", "gb");

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        Assert.Contains("Created meter 'Storage GB'", first.Out, StringComparison.Ordinal);
        Assert.Contains("already exists", second.Out, StringComparison.Ordinal);
    }
}

public sealed class ConfiguredPolarTests : IAsyncLifetime
{
    private PolarEmulatorServer _polar = null!;

    public async Task InitializeAsync() => _polar = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true });

    public async Task DisposeAsync() => await _polar.DisposeAsync();

    private Dictionary<string, string?> Environment(string? token = null) => new()
    {
        [PolarConnection.ServerVariable] = _polar.BaseAddress.AbsoluteUri,
        [PolarConnection.TokenVariable] = token ?? _polar.Token,
        ["Polar__MaxRetries"] = "0",
    };

    [Fact]
    public async Task A_grant_goes_to_the_configured_server()
    {
        var run = await CliRun.RunAsync(Environment(), "grant", "--customer", "u", "--units", "5", "--grant-id", "g");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.DoesNotContain("embedded", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_token_exits_3_without_printing_it()
    {
        const string Token = "polar_oat_definitely_not_valid";

        var run = await CliRun.RunAsync(Environment(Token), "balance", "--customer", "u");

        Assert.Equal(ExitCodes.RefusedByPolar, run.ExitCode);
        Assert.Contains("refused the access token", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, run.Error + run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_token_can_come_from_a_file()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, _polar.Token + "\n");
        try
        {
            var environment = new Dictionary<string, string?> { [PolarConnection.ServerVariable] = _polar.BaseAddress.AbsoluteUri };

            var run = await CliRun.RunAsync(environment, "grant", "--customer", "u", "--units", "1", "--grant-id", "f", "--polar-token-file", file);

            Assert.Equal(ExitCodes.Ok, run.ExitCode);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_server_without_a_token_exits_2()
    {
        var environment = new Dictionary<string, string?> { [PolarConnection.ServerVariable] = "sandbox" };

        var run = await CliRun.RunAsync(environment, "balance", "--customer", "u");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains(PolarConnection.TokenVariable, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_without_a_server_exits_2()
    {
        var environment = new Dictionary<string, string?> { [PolarConnection.TokenVariable] = "polar_oat_x" };

        var run = await CliRun.RunAsync(environment, "balance", "--customer", "u");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("--polar-server", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_server_value_exits_2()
    {
        var run = await CliRun.RunAsync(Environment(), "balance", "--customer", "u", "--polar-server", "staging");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("'staging'", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Polar_unavailable_exits_4()
    {
        await using var failing = await FailingPolar.StartAsync();
        var environment = failing.Environment;

        var run = await CliRun.RunAsync(environment, "grant", "--customer", "u", "--units", "1", "--grant-id", "g");

        Assert.Equal(ExitCodes.Unavailable, run.ExitCode);
    }
}

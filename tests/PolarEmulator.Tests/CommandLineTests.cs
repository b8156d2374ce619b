using PolarEmulator.Hosting;

namespace PolarEmulator.Tests;

/// <summary>The standalone emulator's options, and its refusals naming the option, the value and what is accepted.</summary>
public sealed class CommandLineTests
{
    private static EmulatorCommandLine.Outcome Parse(string[] args, string? environmentToken = null) =>
        EmulatorCommandLine.Parse(args, name => name == EmulatorCommandLine.TokenVariable ? environmentToken : null);

    [Fact]
    public void All_options_are_read()
    {
        var outcome = Parse(["--port", "9000", "--token", "t", "--seed-meter", "--seed-customers", "5000", "--data", "state.json",
            "--requests-per-minute", "100", "--fault-rate", "0.25", "--fault-seed", "7", "--latency-ms", "15", "--drop-rate", "0.5"]);

        var options = Assert.IsType<EmulatorOptions>(outcome.Options);
        Assert.Equal((9000, "t", true, 5000, "state.json", 100),
            (options.Port, options.Token, options.SeedMeter, options.SeedCustomers, options.DataFile, options.RequestsPerMinute));
        Assert.Equal(new FaultOptions { ErrorRate = 0.25, Seed = 7, Latency = TimeSpan.FromMilliseconds(15), DropRate = 0.5 }, options.Faults);
    }

    [Fact]
    public void Webhook_endpoints_with_or_without_a_secret_and_the_retry_base_are_read()
    {
        var options = Assert.IsType<EmulatorOptions>(Parse(["--webhook", "http://127.0.0.1:9000/hooks#whsec_abc", "--webhook", "https://127.0.0.1/other",
            "--webhook-retry-base-ms", "250"]).Options);

        Assert.Equal([new Webhooks.WebhookEndpointOptions(new Uri("http://127.0.0.1:9000/hooks"), "whsec_abc"),
            new Webhooks.WebhookEndpointOptions(new Uri("https://127.0.0.1/other"))], options.WebhookEndpoints);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.WebhookRetryBase);
    }

    [Fact]
    public void A_webhook_url_that_is_not_absolute_http_is_refused()
    {
        Assert.Equal("--webhook 'hooks' is not valid; use an absolute http or https URL, optionally followed by #<secret>.",
            Parse(["--webhook", "hooks"]).Error);
    }

    [Fact]
    public void Defaults_are_port_8787_no_token_and_no_limit()
    {
        var options = Assert.IsType<EmulatorOptions>(Parse([]).Options);

        Assert.Equal((8787, null, null), (options.Port, options.Token, options.RequestsPerMinute));
    }

    [Fact]
    public void Token_comes_from_the_environment_unless_given()
    {
        Assert.Equal("from-env", Parse([], "from-env").Options!.Token);
        Assert.Equal("given", Parse(["--token", "given"], "from-env").Options!.Token);
    }

    [Theory]
    [InlineData("--port", "70000", "--port '70000' is not valid; use an integer from 0 (a free port) to 65535.")]
    [InlineData("--port", "abc", "--port 'abc' is not valid; use an integer from 0 (a free port) to 65535.")]
    [InlineData("--fault-rate", "1.5", "--fault-rate '1.5' is not valid; use a fraction from 0 to 1, such as 0.05.")]
    [InlineData("--seed-customers", "-1", "--seed-customers '-1' is not valid; use an integer from 0 to 10000000.")]
    [InlineData("--requests-per-minute", "0", "--requests-per-minute '0' is not valid; use an integer from 1 to 1000000.")]
    public void Bad_value_is_refused_naming_option_value_and_what_is_accepted(string option, string value, string message)
    {
        Assert.Equal(message, Parse([option, value]).Error);
    }

    [Fact]
    public void Unknown_option_is_refused()
    {
        Assert.Contains("'--verbose'", Parse(["--verbose"]).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Option_without_its_value_is_refused()
    {
        Assert.Equal("--data needs a value.", Parse(["--data"]).Error);
    }

    [Fact]
    public void Generated_token_is_an_organization_access_token()
    {
        var token = PolarEmulatorServer.NewToken();

        Assert.StartsWith("polar_oat_", token, StringComparison.Ordinal);
        Assert.NotEqual(token, PolarEmulatorServer.NewToken());
    }
}

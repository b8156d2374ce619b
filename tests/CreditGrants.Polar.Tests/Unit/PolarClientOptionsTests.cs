using System.ComponentModel.DataAnnotations;
using CreditGrants.Polar.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CreditGrants.Polar.Tests.Unit;

public sealed class PolarClientOptionsTests
{
    [Theory]
    [InlineData("production")]
    [InlineData("Production")]
    public void Production_resolves_to_the_production_api(string server)
    {
        Assert.Equal(new Uri("https://api.polar.sh/"), PolarClientOptions.ResolveServer(server));
    }

    [Theory]
    [InlineData("sandbox")]
    [InlineData("SANDBOX")]
    public void Sandbox_resolves_to_the_sandbox_api(string server)
    {
        Assert.Equal(new Uri("https://sandbox-api.polar.sh/"), PolarClientOptions.ResolveServer(server));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5099", "http://127.0.0.1:5099/")]
    [InlineData("http://localhost:5099/", "http://localhost:5099/")]
    [InlineData("https://emulator.test/polar", "https://emulator.test/polar/")]
    public void Absolute_url_resolves_with_a_trailing_slash(string server, string expected)
    {
        Assert.Equal(new Uri(expected), PolarClientOptions.ResolveServer(server));
    }

    [Fact]
    public void Path_under_a_server_prefix_stays_under_it()
    {
        var baseAddress = PolarClientOptions.ResolveServer("https://emulator.test/polar");

        Assert.Equal(new Uri("https://emulator.test/polar/v1/customers/"), new Uri(baseAddress, "v1/customers/"));
    }

    [Theory]
    [InlineData("staging")]
    [InlineData("ftp://polar.test/")]
    [InlineData("/relative/path")]
    public void Anything_else_is_refused(string server)
    {
        var refusal = Assert.Throws<ArgumentException>(() => PolarClientOptions.ResolveServer(server));

        Assert.Contains(server, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Budget_defaults_to_500_for_production()
    {
        Assert.Equal(500, new PolarClientOptions { Server = "production" }.EffectiveRequestsPerMinute);
    }

    [Fact]
    public void Budget_defaults_to_100_for_sandbox()
    {
        Assert.Equal(100, new PolarClientOptions { Server = "sandbox" }.EffectiveRequestsPerMinute);
    }

    [Fact]
    public void Budget_defaults_to_500_for_another_server()
    {
        Assert.Equal(500, new PolarClientOptions { Server = "http://127.0.0.1:5099" }.EffectiveRequestsPerMinute);
    }

    [Fact]
    public void Budget_defaults_to_100_when_the_sandbox_is_given_by_its_url()
    {
        Assert.Equal(100, new PolarClientOptions { Server = "https://sandbox-api.polar.sh" }.EffectiveRequestsPerMinute);
    }

    [Fact]
    public void Explicit_budget_wins_over_the_default()
    {
        Assert.Equal(42, new PolarClientOptions { Server = "production", RequestsPerMinute = 42 }.EffectiveRequestsPerMinute);
    }

    [Fact]
    public void Registered_budget_follows_the_options()
    {
        var services = new ServiceCollection();
        services.AddPolarGateway(o =>
        {
            o.Server = "sandbox";
            o.AccessToken = "polar_oat_x";
        });
        using var provider = services.BuildServiceProvider();

        Assert.Equal(100, provider.GetRequiredService<PolarRequestBudget>().RequestsPerMinute);
    }

    [Fact]
    public void Empty_access_token_fails_validation()
    {
        var results = Validate(new PolarClientOptions { Server = "sandbox", AccessToken = "" });

        Assert.Contains(results, r => r.MemberNames.Contains(nameof(PolarClientOptions.AccessToken)));
    }

    [Fact]
    public void Unknown_server_fails_validation()
    {
        var results = Validate(new PolarClientOptions { Server = "staging", AccessToken = "polar_oat_x" });

        Assert.Contains(results, r => r.MemberNames.Contains(nameof(PolarClientOptions.Server)));
    }

    [Fact]
    public void Registered_options_refuse_an_empty_token_on_first_use()
    {
        var services = new ServiceCollection();
        services.AddPolarGateway(o => o.Server = "sandbox");
        using var provider = services.BuildServiceProvider();

        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<PolarClientOptions>>().Value);
    }

    [Fact]
    public void Options_bind_from_the_polar_configuration_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Polar:Server"] = "production",
            ["Polar:AccessToken"] = "polar_oat_x",
            ["Polar:MaxEventsPerRequest"] = "250",
            ["Polar:RequestsPerMinute"] = "300",
            ["Polar:MeterCacheSeconds"] = "5",
        }).Build();
        var services = new ServiceCollection();
        services.AddPolarGateway(configuration);
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<PolarClientOptions>>().Value;

        Assert.Equal(new Uri("https://api.polar.sh/"), options.GetBaseAddress());
        Assert.Equal(250, options.MaxEventsPerRequest);
        Assert.Equal(300, provider.GetRequiredService<PolarRequestBudget>().RequestsPerMinute);
        Assert.Equal(5, options.MeterCacheSeconds);
    }

    [Fact]
    public void Out_of_range_settings_fail_validation()
    {
        var results = Validate(new PolarClientOptions { Server = "sandbox", AccessToken = "polar_oat_x", MaxEventsPerRequest = 0, MaxRetries = 21 });

        Assert.Contains(results, r => r.MemberNames.Contains(nameof(PolarClientOptions.MaxEventsPerRequest)));
        Assert.Contains(results, r => r.MemberNames.Contains(nameof(PolarClientOptions.MaxRetries)));
    }

    [Fact]
    public void Gateway_is_one_instance_for_the_whole_app()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPolarGateway(o => o.AccessToken = "polar_oat_x");
        using var provider = services.BuildServiceProvider();

        Assert.Same(provider.GetRequiredService<IPolarGateway>(), provider.GetRequiredService<IPolarGateway>());
    }

    private static List<ValidationResult> Validate(PolarClientOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results;
    }
}

using System.Net;
using FunctionsHost.Tests.Host;
using PolarEmulator;

namespace FunctionsHost.Tests;

/// <summary>
/// What the worker sends to Application Insights itself (not through the host): its logs at the app's own levels, with
/// their structured fields as custom dimensions, flushed when the host stops the worker, and never the Polar token.
/// </summary>
public sealed class TelemetryTests
{
    [Fact]
    public async Task A_grants_information_log_reaches_application_insights_with_its_fields()
    {
        await using var ingestion = await FakeIngestion.StartAsync();
        var settings = AppSettings.Sample();
        await using var emulator = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, Token = settings["Polar__AccessToken"] });
        var run = Guid.NewGuid().ToString("N")[..8];
        settings["Polar__Server"] = emulator.BaseAddress.AbsoluteUri;
        settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] = ingestion.ConnectionString;
        foreach (var (key, value) in AppUnderHost.IsolatedStorage(run))
        {
            settings[key] = value;
        }

        var host = await WorkerHost.StartAsync(AppSettings.AppDirectory, settings, AppUnderHost.StartupLimit);
        HostHttpResponse grant;
        await using (host)
        {
            grant = await host.PostAsync("api/grants",
                $$"""{"customer":{"externalId":"ai-{{run}}","email":"ai-{{run}}@credits.dev"},"units":12,"grantId":"ai-{{run}}"}""", "application/json");
        }

        // Disposing sent WorkerTerminate: the worker flushed its telemetry channel before it exited.
        Assert.True(grant.Status == HttpStatusCode.Created, grant.ToString());
        var grants = ingestion.Messages().Where(m => m.Message.StartsWith("Grant Granted:", StringComparison.Ordinal)).ToArray();
        Assert.True(grants.Length == 1, $"{grants.Length} grant logs among {ingestion.Items.Count} items: "
            + string.Join(" | ", ingestion.Items.Select(i => (string?)i["name"] + " " + (string?)i["data"]?["baseData"]?["message"]))
            + Environment.NewLine + host.Output);
        var (message, fields) = grants[0];
        Assert.Contains($"ai-{run}", message, StringComparison.Ordinal);
        Assert.Equal("12", (string?)fields["Units"]);
        Assert.Equal($"ai-{run}", (string?)fields["GrantId"]);
        Assert.EndsWith("GrantService", (string?)fields["CategoryName"], StringComparison.Ordinal);
        // appsettings.json's levels: a Polar request's resilience trace (Polly, Information) is not sent.
        Assert.DoesNotContain(ingestion.Messages(), m => m.Message.StartsWith("Execution attempt", StringComparison.Ordinal));
        Assert.DoesNotContain(ingestion.Bodies, b => b.Contains(settings["Polar__AccessToken"], StringComparison.Ordinal));
    }
}

using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using FunctionsHost.Tests.Host;
using FunctionsHost.Tests.Rpc;

namespace FunctionsHost.Tests;

/// <summary>The campaign timer ticked as the host ticks it: a TimerInfo input (schedule status, past due) to <c>RunCampaigns</c>.</summary>
[Collection(SharedWorker.Name)]
public sealed class TimerTriggerTests(AppUnderHost app)
{
    private static readonly TimeSpan GrantLimit = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_tick_runs_a_due_campaign_whose_grants_the_queue_function_makes()
    {
        await using var queue = await QueueTriggerEngine.StartAsync(app.Host, "ProcessGrantWork");
        var customer = $"timer-{app.Run}";
        var signup = await app.Host.PostAsync("api/grants",
            $$"""{"customer":{"externalId":"{{customer}}","email":"{{customer}}@credits.dev"},"units":1,"grantId":"{{customer}}-signup"}""", "application/json");
        Assert.True(signup.Status == HttpStatusCode.Created, signup.ToString());
        await UploadCampaignAsync(new JsonObject
        {
            ["id"] = $"host-{app.Run}",
            ["units"] = 40,
            ["reason"] = "Worker protocol campaign",
            ["schedule"] = new JsonObject { ["once"] = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture) },
            ["audience"] = new JsonObject { ["externalIds"] = new JsonArray(customer) },
            ["grantPolicy"] = "oncePerCustomer",
        });

        var tick = await app.Host.InvokeAsync("RunCampaigns", [Timer(isPastDue: false)]);

        Assert.True(tick.Result.Status == StatusResult.Types.Status.Success, tick.Result.Exception?.Message);
        Assert.Equal(41m, await WaitForBalanceAsync(customer, 41m));
    }

    [Fact]
    public async Task A_past_due_tick_binds_and_runs()
    {
        var tick = await app.Host.InvokeAsync("RunCampaigns", [Timer(isPastDue: true)]);

        Assert.True(tick.Result.Status == StatusResult.Types.Status.Success, tick.Result.Exception?.Message);
    }

    private ParameterBinding Timer(bool isPastDue) => Timer(app, "RunCampaigns", isPastDue);

    /// <summary>A timer function's input as the host sends it: its TimerInfo serialized to JSON (Json.NET, the host's property names).</summary>
    internal static ParameterBinding Timer(AppUnderHost app, string function, bool isPastDue)
    {
        var now = DateTime.UtcNow;
        var info = new JsonObject
        {
            ["Schedule"] = new JsonObject { ["AdjustForDST"] = true },
            ["ScheduleStatus"] = new JsonObject
            {
                ["Last"] = now.AddMinutes(-5).ToString("o", CultureInfo.InvariantCulture),
                ["Next"] = now.AddMinutes(5).ToString("o", CultureInfo.InvariantCulture),
                ["LastUpdated"] = now.ToString("o", CultureInfo.InvariantCulture),
            },
            ["IsPastDue"] = isPastDue,
        };
        var name = (string)app.Host.Function(function).Trigger["name"]!;
        return new ParameterBinding { Name = name, Data = new TypedData { Json = info.ToJsonString() } };
    }

    private async Task UploadCampaignAsync(JsonObject campaign)
    {
        var container = new BlobContainerClient(app.Host.Settings["AzureWebJobsStorage"], app.Host.Settings["Campaigns__Container"]);
        await container.CreateIfNotExistsAsync();
        await container.GetBlobClient($"{campaign["id"]}.json").UploadAsync(BinaryData.FromString(campaign.ToJsonString()), overwrite: true);
    }

    private async Task<decimal> WaitForBalanceAsync(string customer, decimal expected)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var balance = (decimal)(await app.Host.GetAsync($"api/customers/{customer}/balance")).Json["balance"]!;
            if (balance == expected || clock.Elapsed > GrantLimit)
            {
                return balance;
            }

            await Task.Delay(250);
        }
    }
}

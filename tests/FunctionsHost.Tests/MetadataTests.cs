using System.Text.Json.Nodes;
using FunctionsHost.Tests.Host;
using FunctionsHost.Tests.Rpc;

namespace FunctionsHost.Tests;

/// <summary>
/// What the worker tells the host about its functions (worker indexing): every function, its trigger and the binding
/// properties the host acts on. A function added to the app must be added here, so a new trigger cannot go untested.
/// </summary>
[Collection(SharedWorker.Name)]
public sealed class MetadataTests(AppUnderHost app)
{
    public static TheoryData<string, string, string, string> HttpFunctions => new()
    {
        { "GrantCredits", "post", "grants", "Function" },
        { "GetBalance", "get", "customers/{externalId}/balance", "Function" },
        { "SubmitBulkGrants", "post", "bulk-grants", "Function" },
        { "GetBulkGrantJob", "get", "bulk-grants/{jobId}", "Function" },
        { "GetBulkGrantResults", "get", "bulk-grants/{jobId}/results", "Function" },
        { "GetOpenApiDocument", "get", "openapi.json", "Anonymous" },
        { "ListCustomerGrants", "get", "customers/{externalId}/grants", "Function" },
        { "RevokeGrant", "post", "grants/{grantId}/revoke", "Function" },
        { "ReceivePolarWebhook", "post", "polar/webhooks", "Anonymous" },
        { "RevokeBulkGrants", "post", "bulk-grants/{jobId}/revoke", "Function" },
        { "RevokeCampaignOccurrence", "post", "campaigns/{campaignId}/occurrences/{occurrence}/revoke", "Function" },
    };

    [Fact]
    public void The_worker_indexes_exactly_the_apps_functions_and_loads_each()
    {
        string[] expected = ["ExpireGrants", "GetBalance", "GetBulkGrantJob", "GetBulkGrantResults", "GetOpenApiDocument", "GrantCredits", "ListCustomerGrants",
            "ProcessGrantWork", "ProcessPolarWebhook", "ReceivePolarWebhook", "RevokeBulkGrants", "RevokeCampaignOccurrence", "RevokeGrant", "RunCampaigns", "SubmitBulkGrants"];

        Assert.Equal(expected, app.Host.Functions.Keys.Order(StringComparer.Ordinal));
        Assert.All(app.Host.LoadResponses.Values, r => Assert.Equal(StatusResult.Types.Status.Success, r.Result.Status));
        Assert.All(app.Host.Functions.Values, f => Assert.Equal("CreditFunctions.dll", f.Metadata.ScriptFile));
        Assert.All(app.Host.Functions.Values, f => Assert.Equal($"CreditFunctions.Functions.{f.Name}.Run", f.Metadata.EntryPoint));
    }

    [Fact]
    public void Every_binding_expression_resolves_from_the_sample_settings()
    {
        // Only the sample's own values: the storage names the other tests add for isolation must not hide a missing one.
        var sample = AppSettings.Sample();
        var errors = app.Host.Functions.Values
            .SelectMany(f => IndexedFunction.Index(f.Metadata, sample).Errors.Select(e => $"{f.Name}: {e}"))
            .ToArray();

        Assert.True(errors.Length == 0, string.Join(Environment.NewLine, errors));
    }

    [Theory]
    [MemberData(nameof(HttpFunctions))]
    public void Http_functions_declare_route_method_and_function_keys(string name, string method, string route, string authLevel)
    {
        var function = app.Host.Function(name);
        var trigger = function.Trigger;

        Assert.Equal("httpTrigger", (string?)trigger["type"]);
        Assert.Equal(route, (string?)trigger["route"]);
        Assert.Equal([method], trigger["methods"]!.AsArray().Select(m => ((string?)m)!.ToLowerInvariant()));
        Assert.Equal(authLevel, (string?)trigger["authLevel"]);
        var output = Assert.Single(function.Bindings, b => (string?)b["direction"] is "Out" or "out");
        Assert.Equal("http", (string?)output["type"]);
        Assert.Equal("$return", (string?)output["name"]);
    }

    [Fact]
    public void The_queue_function_binds_the_grant_work_queue_deferred()
    {
        var function = app.Host.Function("ProcessGrantWork");
        var trigger = function.Trigger;

        Assert.Equal("queueTrigger", (string?)trigger["type"]);
        Assert.Equal("%Bulk:QueueName%", (string?)trigger["queueName"]);
        Assert.Equal("AzureWebJobsStorage", (string?)trigger["connection"]);
        Assert.Equal(app.Host.Settings["Bulk__QueueName"], (string?)function.ResolvedTrigger["queueName"]);
        // The host sends the message as ModelBindingData (the SDK-type binding to QueueMessage) only when told so.
        Assert.Equal("True", DeferredBinding(trigger), ignoreCase: true);
    }

    [Fact]
    public void The_webhook_queue_function_binds_the_webhook_queue_deferred()
    {
        var function = app.Host.Function("ProcessPolarWebhook");
        var trigger = function.Trigger;

        Assert.Equal("queueTrigger", (string?)trigger["type"]);
        Assert.Equal("%Webhooks:QueueName%", (string?)trigger["queueName"]);
        Assert.Equal("AzureWebJobsStorage", (string?)trigger["connection"]);
        Assert.Equal(app.Host.Settings["Webhooks__QueueName"], (string?)function.ResolvedTrigger["queueName"]);
        Assert.Equal("True", DeferredBinding(trigger), ignoreCase: true);
    }

    [Theory]
    [InlineData("RunCampaigns", "CampaignSchedule")]
    [InlineData("ExpireGrants", "ExpirySchedule")]
    public void The_timers_read_their_schedule_from_a_setting_and_do_not_run_on_startup(string function, string setting)
    {
        var trigger = app.Host.Function(function).Trigger;

        Assert.Equal("timerTrigger", (string?)trigger["type"]);
        Assert.Equal($"%{setting}%", (string?)trigger["schedule"]);
        Assert.False((bool?)trigger["runOnStartup"] ?? false);
        Assert.Equal(AppSettings.Sample()[setting], (string?)app.Host.Function(function).ResolvedTrigger["schedule"]);
    }

    [Fact]
    public void The_workers_metadata_matches_the_published_functions_metadata_file()
    {
        // The SDK writes functions.metadata at build time; the host reads the worker's answer. Both must say the same.
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(AppSettings.AppDirectory, "functions.metadata")))!.AsArray()
            .ToDictionary(f => (string)f!["name"]!, f => f!["bindings"]!.AsArray());

        Assert.Equal(file.Keys.Order(StringComparer.Ordinal), app.Host.Functions.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, bindings) in file)
        {
            var fromWorker = app.Host.Function(name).Bindings;
            Assert.Equal(bindings.Count, fromWorker.Count);
            foreach (var binding in bindings)
            {
                var same = fromWorker.Single(b => (string?)b["name"] == (string?)binding!["name"]);
                foreach (var key in new[] { "type", "route", "authLevel", "queueName", "connection", "schedule" })
                {
                    Assert.Equal(binding![key]?.ToJsonString(), same[key]?.ToJsonString());
                }
            }
        }
    }

    private static string? DeferredBinding(JsonObject binding) =>
        binding["properties"] is JsonObject properties
            ? properties.FirstOrDefault(p => string.Equals(p.Key, "SupportsDeferredBinding", StringComparison.OrdinalIgnoreCase)).Value?.ToString()
            : null;
}

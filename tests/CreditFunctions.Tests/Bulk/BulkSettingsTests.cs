using System.Text.Json;
using Azure.Storage.Queues;
using CreditGrants.Bulk;
using CreditGrants.Storage;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CreditFunctions.Tests.Bulk;

/// <summary>How the app reaches its storage and learns the queue host's policy; no storage is touched.</summary>
public sealed class BulkSettingsTests
{
    private static readonly string HostJson = Path.Combine(AppContext.BaseDirectory, "host.json");

    private static IConfiguration Configuration(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();

    private static JsonElement Queues() => JsonDocument.Parse(File.ReadAllText(HostJson)).RootElement.GetProperty("extensions").GetProperty("queues");

    [Fact]
    public void Host_json_message_encoding_is_what_the_app_s_queue_client_writes()
    {
        Assert.Equal("base64", Queues().GetProperty("messageEncoding").GetString());
        Assert.Equal(QueueMessageEncoding.Base64, StorageAccount.QueueOptions.MessageEncoding);
    }

    [Fact]
    public void The_worker_reads_max_dequeue_count_from_host_json()
    {
        var policy = HostQueueSettings.Read(Configuration(), HostJson);

        Assert.Equal(Queues().GetProperty("maxDequeueCount").GetInt32(), policy.MaxDequeueCount);
    }

    [Fact]
    public void An_app_setting_overrides_host_json_for_the_worker_as_for_the_host()
    {
        var policy = HostQueueSettings.Read(Configuration(("AzureFunctionsJobHost:extensions:queues:maxDequeueCount", "8")), HostJson);

        Assert.Equal(8, policy.MaxDequeueCount);
    }

    [Fact]
    public void Without_host_json_the_host_default_of_five_applies() =>
        Assert.Equal(5, HostQueueSettings.Read(Configuration(), Path.Combine(AppContext.BaseDirectory, "no-such-host.json")).MaxDequeueCount);

    [Fact]
    public void A_connection_string_setting_gives_clients_for_that_account()
    {
        var account = StorageAccount.FromConfiguration(Configuration(("AzureWebJobsStorage", "UseDevelopmentStorage=true")));

        Assert.Equal(10000, account.Blobs.Uri.Port);
        Assert.Equal(10001, account.Queues.Uri.Port);
        Assert.Equal(10002, account.Tables.Uri.Port);
    }

    [Fact]
    public void Identity_based_settings_give_clients_for_the_service_uris()
    {
        var account = StorageAccount.FromConfiguration(Configuration(
            ("AzureWebJobsStorage:blobServiceUri", "https://stcredits.blob.core.windows.net/"),
            ("AzureWebJobsStorage:queueServiceUri", "https://stcredits.queue.core.windows.net/"),
            ("AzureWebJobsStorage:tableServiceUri", "https://stcredits.table.core.windows.net/"),
            ("AzureWebJobsStorage:credential", "managedidentity"),
            ("AzureWebJobsStorage:clientId", "00000000-0000-0000-0000-000000000001")));

        Assert.Equal("stcredits.blob.core.windows.net", account.Blobs.Uri.Host);
        Assert.Equal("stcredits.queue.core.windows.net", account.Queues.Uri.Host);
        Assert.Equal("stcredits.table.core.windows.net", account.Tables.Uri.Host);
        Assert.Equal("stcredits", account.Blobs.AccountName);
    }

    [Fact]
    public void An_account_name_setting_gives_the_account_s_default_endpoints()
    {
        var account = StorageAccount.FromConfiguration(Configuration(("AzureWebJobsStorage:accountName", "stcredits")));

        Assert.Equal(new Uri("https://stcredits.queue.core.windows.net/"), account.Queues.Uri);
    }

    [Fact]
    public void No_storage_settings_name_the_settings_to_set()
    {
        var error = Assert.Throws<StorageConfigurationException>(() => StorageAccount.FromConfiguration(Configuration()));

        Assert.Contains("AzureWebJobsStorage__blobServiceUri", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseDevelopmentStorage=true", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_connection_string_is_refused_without_repeating_it()
    {
        const string Secret = "c2VjcmV0LWtleQ==";

        var error = Assert.Throws<StorageConfigurationException>(() => StorageAccount.FromConnectionString($"AccountName=x;AccountKey={Secret};Nonsense"));

        Assert.DoesNotContain(Secret, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Storage_settings_are_read_when_storage_is_first_used_so_other_functions_need_none()
    {
        using var services = new ServiceCollection().AddLogging().AddCreditFunctions(Configuration()).BuildServiceProvider();
        var store = services.GetRequiredService<BulkStore>();

        Assert.Throws<StorageConfigurationException>(() => store.Queue);
    }

    private static readonly BulkSubmitOptions Batch = new("spring");

    [Fact]
    public void Job_ids_come_from_the_content_the_defaults_and_the_batch_only()
    {
        var hash = new string('a', 64);

        var id = BulkJobId.Derive(hash, new BulkDefaults(), Batch);

        Assert.Equal(id, BulkJobId.Derive(hash, new BulkDefaults(), Batch));
        Assert.True(BulkJobId.IsWellFormed(id));
        Assert.NotEqual(id, BulkJobId.Derive(new string('b', 64), new BulkDefaults(), Batch));
        Assert.NotEqual(id, BulkJobId.Derive(hash, new BulkDefaults(Meter: "API Calls"), Batch));
        Assert.NotEqual(id, BulkJobId.Derive(hash, new BulkDefaults(), new BulkSubmitOptions("autumn")));
        Assert.NotEqual(id, BulkJobId.Derive(hash, new BulkDefaults(), Batch with { DryRun = true }));
        Assert.NotEqual(BulkJobId.Derive(hash, new BulkDefaults(Meter: "a", Reason: null), Batch), BulkJobId.Derive(hash, new BulkDefaults(Meter: null, Reason: "a"), Batch));
    }
}

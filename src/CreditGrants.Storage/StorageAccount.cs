using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

namespace CreditGrants.Storage;

/// <summary>
/// The blob, queue and table clients of one storage account, made from a connection string (Azurite, a developer's
/// account) or from identity-based settings (a service URI per service and a managed identity, as in Azure).
/// </summary>
public sealed class StorageAccount
{
    /// <summary>The connection the Functions host itself uses; the app's own clients read the same settings.</summary>
    public const string DefaultConnectionName = "AzureWebJobsStorage";

    private StorageAccount(BlobServiceClient blobs, QueueServiceClient queues, TableServiceClient tables)
    {
        Blobs = blobs;
        Queues = queues;
        Tables = tables;
    }

    public BlobServiceClient Blobs { get; }

    public QueueServiceClient Queues { get; }

    public TableServiceClient Tables { get; }

    /// <summary>
    /// The queue clients write Base64 message bodies, which is what the Functions queue trigger reads with host.json's
    /// <c>messageEncoding: base64</c> (its default).
    /// </summary>
    public static QueueClientOptions QueueOptions => new() { MessageEncoding = QueueMessageEncoding.Base64 };

    /// <summary>Clients for a connection string; the message never repeats it, as it holds the account key.</summary>
    public static StorageAccount FromConnectionString(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        try
        {
            return new StorageAccount(new BlobServiceClient(connectionString), new QueueServiceClient(connectionString, QueueOptions),
                new TableServiceClient(connectionString));
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new StorageConfigurationException(
                "The storage connection string is not valid: expected 'UseDevelopmentStorage=true' or " +
                "'DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net'.");
        }
    }

    /// <summary>Clients for an account reached with the caller's Azure identity (<c>az login</c>, environment, managed identity).</summary>
    public static StorageAccount FromAccountName(string accountName)
    {
        if (accountName is not { Length: >= 3 and <= 24 } || !accountName.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c)))
        {
            throw new StorageConfigurationException(
                "Expected a storage connection string (with '=') or a storage account name (3 to 24 lowercase letters and digits).");
        }

        var credential = new DefaultAzureCredential();
        return new StorageAccount(new BlobServiceClient(new Uri($"https://{accountName}.blob.core.windows.net/"), credential),
            new QueueServiceClient(new Uri($"https://{accountName}.queue.core.windows.net/"), credential, QueueOptions),
            new TableServiceClient(new Uri($"https://{accountName}.table.core.windows.net/"), credential));
    }

    /// <summary>
    /// Clients for the connection <paramref name="name"/>, read the way the Functions host reads it: the setting itself is a
    /// connection string, or its section holds <c>blobServiceUri</c>, <c>queueServiceUri</c>, <c>tableServiceUri</c> (or
    /// <c>accountName</c>) with <c>credential</c> (<c>managedidentity</c>) and <c>clientId</c> (a user-assigned identity).
    /// </summary>
    public static StorageAccount FromConfiguration(IConfiguration configuration, string name = DefaultConnectionName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(name);
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            return FromConnectionString(section.Value);
        }

        var account = section["accountName"];
        var blob = ServiceUri(section, "blobServiceUri", account, "blob");
        var queue = ServiceUri(section, "queueServiceUri", account, "queue");
        var table = ServiceUri(section, "tableServiceUri", account, "table");
        if (blob is null || queue is null || table is null)
        {
            throw new StorageConfigurationException(
                $"No storage connection: set '{name}' to a connection string (UseDevelopmentStorage=true for Azurite), or set " +
                $"'{name}__blobServiceUri', '{name}__queueServiceUri' and '{name}__tableServiceUri' (or '{name}__accountName') " +
                $"with '{name}__credential' = managedidentity for an identity.");
        }

        var credential = Credential(section["credential"], section["clientId"]);
        return new StorageAccount(new BlobServiceClient(blob, credential), new QueueServiceClient(queue, credential, QueueOptions),
            new TableServiceClient(table, credential));
    }

    private static Uri? ServiceUri(IConfigurationSection section, string key, string? account, string service)
    {
        if (section[key] is { Length: > 0 } text)
        {
            return Uri.TryCreate(text, UriKind.Absolute, out var uri)
                ? uri
                : throw new StorageConfigurationException($"'{section.Path}__{key}' is not an absolute URI: '{text}'.");
        }

        return account is { Length: > 0 } ? new Uri($"https://{account}.{service}.core.windows.net/") : null;
    }

    // 'managedidentity' is the Functions host's value; anything else uses the usual developer and Azure credentials.
    private static TokenCredential Credential(string? kind, string? clientId) =>
        string.Equals(kind, "managedidentity", StringComparison.OrdinalIgnoreCase)
            ? new ManagedIdentityCredential(clientId is { Length: > 0 }
                ? ManagedIdentityId.FromUserAssignedClientId(clientId)
                : ManagedIdentityId.SystemAssigned)
            : new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId is { Length: > 0 } ? clientId : null });
}

/// <summary>The storage settings are missing or not usable; the message names the settings to set, never a secret.</summary>
public sealed class StorageConfigurationException : Exception
{
    public StorageConfigurationException(string message) : base(message) { }

    public StorageConfigurationException() { }

    public StorageConfigurationException(string message, Exception innerException) : base(message, innerException) { }
}

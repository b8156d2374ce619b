using System.Net.Sockets;
using System.Text;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using CreditFunctions.Functions;
using CreditFunctions.Http;
using CreditGrants.Bulk;
using CreditGrants.Grants;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditFunctions.Tests.Bulk;

/// <summary>Storage names of one test's own, so that tests sharing one Azurite never see each other's jobs.</summary>
internal sealed record StorageNames(string Queue, string Uploads, string Results, string Table)
{
    public static StorageNames Unique()
    {
        var id = Guid.NewGuid().ToString("N")[..16];
        return new StorageNames($"work-{id}", $"uploads-{id}", $"results-{id}", $"jobs{id}");
    }

    public Dictionary<string, string?> Settings() => new()
    {
        ["Bulk:QueueName"] = Queue,
        ["Bulk:UploadsContainer"] = Uploads,
        ["Bulk:ResultsContainer"] = Results,
        ["Bulk:JobsTable"] = Table,
    };
}

/// <summary>How one delivery of a queue message went.</summary>
internal sealed record Delivery(string Kind, long DequeueCount, Exception? Error);

/// <summary>
/// The Functions app's services wired as Program.cs wires them, against an in-process Polar emulator and Azurite (through
/// <c>UseDevelopmentStorage=true</c>, or the connection in env <c>CREDITS_TEST_STORAGE</c>). No Functions host runs here:
/// <see cref="DrainAsync"/> plays the host's part for the queue trigger.
/// </summary>
internal sealed class BulkApp : IAsyncDisposable
{
    public const string TestStorageVariable = "CREDITS_TEST_STORAGE";

    private readonly bool _ownsStorage;
    private bool _ownsEmulator = true;

    private BulkApp(PolarEmulatorServer emulator, ServiceProvider services, StorageNames names, bool ownsStorage, IConfiguration settings)
    {
        Settings = settings;
        Emulator = emulator;
        Services = services;
        Names = names;
        _ownsStorage = ownsStorage;
    }

    public static string StorageConnection => Environment.GetEnvironmentVariable(TestStorageVariable) ?? "UseDevelopmentStorage=true";

    public PolarEmulatorServer Emulator { get; }

    public ServiceProvider Services { get; }

    /// <summary>The app settings the services were built from.</summary>
    public IConfiguration Settings { get; }

    public StorageNames Names { get; }

    public BulkJobs Jobs => Services.GetRequiredService<BulkJobs>();

    public BulkStore Store => Services.GetRequiredService<BulkStore>();

    public BulkGrantApi Api => Services.GetRequiredService<BulkGrantApi>();

    public ProcessGrantWork QueueFunction => new(Services.GetRequiredService<BulkWorker>());

    public int MaxDequeueCount => Services.GetRequiredService<BulkQueuePolicy>().MaxDequeueCount;

    /// <summary>Every message delivered so far, as received (for redelivering one on purpose).</summary>
    public List<QueueMessage> Received { get; } = [];

    /// <param name="emulatorOptions">The Polar emulator's; by default it has the "API Calls" meter.</param>
    /// <param name="names">Storage shared with other apps (the caller cleans it up); by default names of its own, removed on dispose.</param>
    /// <param name="settings">More app settings.</param>
    /// <param name="sharedEmulator">An emulator other apps use too (one Polar for several instances); the caller disposes it.</param>
    public static async Task<BulkApp> StartAsync(EmulatorOptions? emulatorOptions = null, StorageNames? names = null,
        Dictionary<string, string?>? settings = null, PolarEmulatorServer? sharedEmulator = null, Action<IServiceCollection>? services = null)
    {
        await EnsureAzuriteAsync();
        var ownsStorage = names is null;
        names ??= StorageNames.Unique();
        var emulator = sharedEmulator ?? await PolarEmulatorServer.StartAsync(emulatorOptions ?? new EmulatorOptions { SeedMeter = true });
        var configuration = new Dictionary<string, string?>
        {
            ["Polar:Server"] = emulator.BaseAddress.AbsoluteUri,
            ["Polar:AccessToken"] = emulator.Token,
            ["Polar:MaxRetries"] = "0",
            ["Polar:MeterCacheSeconds"] = "0",
            ["Polar:RequestsPerMinute"] = "100000",
            ["AzureWebJobsStorage"] = StorageConnection,
        };
        foreach (var (key, value) in names.Settings().Concat(settings ?? []))
        {
            configuration[key] = value;
        }

        var appSettings = new ConfigurationBuilder().AddInMemoryCollection(configuration).Build();
        var collection = new ServiceCollection().AddLogging();
        services?.Invoke(collection);
        var provider = collection.AddCreditFunctions(appSettings).BuildServiceProvider();
        await provider.GetRequiredService<BulkStore>().EnsureCreatedAsync(CancellationToken.None);
        return new BulkApp(emulator, provider, names, ownsStorage, appSettings) { _ownsEmulator = sharedEmulator is null };
    }

    /// <summary>The batch tests submit files in unless they say otherwise.</summary>
    public static readonly BulkSubmitOptions DefaultBatch = new("test-batch");

    public Task<BulkSubmission> SubmitAsync(string csv, BulkDefaults? defaults = null, BulkSubmitOptions? submit = null) =>
        Jobs.SubmitAsync(new NonSeekableStream(Encoding.UTF8.GetBytes(csv)), defaults ?? new BulkDefaults(), submit ?? DefaultBatch, CancellationToken.None);

    public async Task<BulkJobStatus> StatusAsync(string jobId) =>
        await Jobs.GetStatusAsync(jobId, CancellationToken.None) ?? throw new InvalidOperationException($"no job {jobId}");

    /// <summary>
    /// Delivers queue messages to the queue function until the queue is empty, as the Functions host would: a message whose
    /// function returns is deleted; one that throws becomes visible again (at once here, after host.json's
    /// visibilityTimeout in Azure) and, once thrown on its <see cref="MaxDequeueCount"/>th delivery, is moved to the poison queue.
    /// </summary>
    public async Task<List<Delivery>> DrainAsync() =>
        [.. (await HostQueue.DrainAsync(Store.Queue, Store.PoisonQueue, MaxDequeueCount, m => QueueFunction.Run(m, CancellationToken.None), Received.Add))
            .Select(d => new Delivery(KindOf(d.Message), d.Message.DequeueCount, d.Error))];

    /// <summary>The messages visible now, taken off the queue for five minutes (deliver them, or <see cref="ReleaseAsync"/> them).</summary>
    public async Task<QueueMessage[]> ReceiveAsync()
    {
        QueueMessage[] messages = (await Store.Queue.ReceiveMessagesAsync(maxMessages: 32, visibilityTimeout: TimeSpan.FromMinutes(5))).Value;
        Received.AddRange(messages);
        return messages;
    }

    /// <summary>Runs the queue function on one message and, when it returns, deletes the message, as the host does.</summary>
    public async Task DeliverAsync(QueueMessage message)
    {
        await QueueFunction.Run(message, CancellationToken.None);
        await Store.Queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
    }

    /// <summary>Makes received messages visible again without running them.</summary>
    public async Task ReleaseAsync(IEnumerable<QueueMessage> messages)
    {
        foreach (var message in messages)
        {
            await Store.Queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
        }
    }

    /// <summary>The same message as another delivery would hand it over: same body, the given delivery count and id.</summary>
    public static QueueMessage Redelivery(QueueMessage message, long dequeueCount, string? messageId = null) =>
        QueuesModelFactory.QueueMessage(messageId ?? message.MessageId, "redelivery", message.Body, dequeueCount);

    public static string KindOf(QueueMessage message) => BulkMessage.Parse(message.Body).Kind;

    public async Task<decimal> BalanceAsync(string externalId) =>
        (await Services.GetRequiredService<BalanceService>().GetBalanceAsync(externalId, "API Calls")).Balance;

    public async Task<string> ResultsAsync(BulkJobStatus status)
    {
        Assert.NotNull(status.Results);
        var content = await Store.Results.GetBlobClient(status.Results.Blob).DownloadContentAsync();
        return content.Value.Content.ToString();
    }

    public async Task<List<string>> PoisonedAsync()
    {
        var peeked = await Store.PoisonQueue.PeekMessagesAsync(maxMessages: 32);
        return peeked.Value.Select(m => m.Body.ToString()).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsStorage)
        {
            await DeleteStorageAsync(Names);
        }

        await Services.DisposeAsync();
        if (_ownsEmulator)
        {
            await Emulator.DisposeAsync();
        }
    }

    /// <summary>Removes a test's containers, queues and table.</summary>
    public static async Task DeleteStorageAsync(StorageNames names)
    {
        var connection = StorageConnection;
        try
        {
            var blobs = new Azure.Storage.Blobs.BlobServiceClient(connection);
            var queues = new QueueServiceClient(connection);
            await blobs.GetBlobContainerClient(names.Uploads).DeleteIfExistsAsync();
            await blobs.GetBlobContainerClient(names.Results).DeleteIfExistsAsync();
            await queues.GetQueueClient(names.Queue).DeleteIfExistsAsync();
            await queues.GetQueueClient(names.Queue + "-poison").DeleteIfExistsAsync();
            await new Azure.Data.Tables.TableServiceClient(connection).DeleteTableAsync(names.Table);
        }
        catch (Azure.RequestFailedException)
        {
            // Leftovers in a throwaway Azurite are harmless.
        }
    }

    /// <summary>Fails at once with what to do when Azurite is not listening, instead of after the storage clients' retries.</summary>
    private static async Task EnsureAzuriteAsync()
    {
        if (!StorageConnection.Contains("UseDevelopmentStorage=true", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        foreach (var port in new[] { 10000, 10001, 10002 })
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception ex) when (ex is SocketException or TimeoutException)
            {
                throw new InvalidOperationException(
                    $"Azurite is not listening on 127.0.0.1:{port}. Run the tests with 'bash scripts/test.sh' (it starts Azurite), or start it: " +
                    "npx azurite --silent --skipApiVersionCheck --loose --location .azurite", ex);
            }
        }
    }
}

/// <summary>A request body as the host streams it: readable once, not seekable.</summary>
internal sealed class NonSeekableStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>Test files and a small RFC 4180 reader for the results CSV.</summary>
internal static class Csv
{
    /// <summary>A file of <paramref name="rows"/> grants spread over customers <c>user-1</c> … <c>user-N</c>, and each one's expected credit.</summary>
    public static (string Text, Dictionary<string, decimal> Expected) Grants(int rows, int customers)
    {
        var text = new StringBuilder("external_customer_id,units\n");
        var expected = new Dictionary<string, decimal>(StringComparer.Ordinal);
        for (var i = 0; i < rows; i++)
        {
            var customer = $"user-{(i % customers) + 1}";
            var units = (i % 7) + 1;
            text.Append(customer).Append(',').Append(units).Append('\n');
            expected[customer] = expected.GetValueOrDefault(customer) + units;
        }

        return (text.ToString(), expected);
    }

    /// <summary>Rows of cells; quoted cells may hold commas, quotes (doubled) and line breaks.</summary>
    public static List<string[]> Parse(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                row.Add(cell.ToString());
                cell.Clear();
            }
            else if (c == '\n')
            {
                row.Add(cell.ToString());
                cell.Clear();
                rows.Add([.. row]);
                row.Clear();
            }
            else if (c != '\r')
            {
                cell.Append(c);
            }
        }

        if (cell.Length > 0 || row.Count > 0)
        {
            row.Add(cell.ToString());
            rows.Add([.. row]);
        }

        return rows;
    }

    /// <summary>The results file's rows as dictionaries by column name, checking that the header comes once, first.</summary>
    public static List<IReadOnlyDictionary<string, string>> Results(string text)
    {
        var rows = Parse(text);
        Assert.Equal(BulkResultsWriter.Columns, rows[0]);
        Assert.DoesNotContain(rows.Skip(1), r => r.SequenceEqual(BulkResultsWriter.Columns));
        return rows.Skip(1).Select(r => (IReadOnlyDictionary<string, string>)BulkResultsWriter.Columns.Zip(r).ToDictionary(p => p.First, p => p.Second)).ToList();
    }
}

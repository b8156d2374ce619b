using System.Net.Sockets;
using System.Text.Json;
using Azure.Storage.Queues.Models;
using CreditGrants.Cli;
using CreditGrants.Storage;
using CreditGrants.Storage.Bulk;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PolarEmulator;

namespace CreditGrants.Cli.Tests;

/// <summary>
/// <c>credits bulk submit|status|retry</c> against Azurite (<c>UseDevelopmentStorage=true</c>, or env
/// <c>CREDITS_TEST_STORAGE</c>), with the Functions app's queue worker played in-process against the Polar emulator.
/// </summary>
public sealed class BulkAzureTests : IAsyncLifetime
{
    private static readonly string Storage = TestStorage.ConnectionString;
    private const string File = "external_customer_id,units\nuser-1,5\nuser-2,7\n";

    private readonly string _id = Guid.NewGuid().ToString("N")[..16];
    private readonly string _dir = Directory.CreateTempSubdirectory("credits-bulk-azure-").FullName;
    private PolarEmulatorServer _emulator = null!;
    private ServiceProvider _app = null!;

    private Dictionary<string, string?> Settings => new()
    {
        ["Bulk__QueueName"] = $"work-{_id}",
        ["Bulk__UploadsContainer"] = $"uploads-{_id}",
        ["Bulk__ResultsContainer"] = $"results-{_id}",
        ["Bulk__JobsTable"] = $"jobs{_id}",
    };

    public async Task InitializeAsync()
    {
        await TestStorage.EnsureRunningAsync();
        _emulator = await PolarEmulatorServer.StartAsync(new EmulatorOptions { SeedMeter = true, SeedCustomers = 5 });
        _app = Worker(_emulator);
    }

    public async Task DisposeAsync()
    {
        var store = _app.GetRequiredService<BulkStore>();
        await store.Uploads.DeleteIfExistsAsync();
        await store.Results.DeleteIfExistsAsync();
        await store.Queue.DeleteIfExistsAsync();
        await store.PoisonQueue.DeleteIfExistsAsync();
        await new Azure.Data.Tables.TableServiceClient(Storage).DeleteTableAsync($"jobs{_id}");
        await _app.DisposeAsync();
        await _emulator.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The Functions app's bulk services (what ProcessGrantWork runs), on this test's storage and an emulator.</summary>
    private ServiceProvider Worker(PolarEmulatorServer emulator)
    {
        var settings = Settings.ToDictionary(s => s.Key.Replace("__", ":", StringComparison.Ordinal), s => s.Value);
        settings["Polar:Server"] = emulator.BaseAddress.AbsoluteUri;
        settings["Polar:AccessToken"] = emulator.Token;
        settings["Polar:MaxRetries"] = "0";
        settings["AzureWebJobsStorage"] = Storage;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddLogging().AddCreditGrants(configuration).AddBulkStorage(configuration).BuildServiceProvider();
    }

    private string Write(string csv, string name = "grants.csv")
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, csv);
        return path;
    }

    private Task<CliRun> Credits(params string[] args) => Credits(Settings, TimeProvider.System, args);

    private static async Task<CliRun> Credits(IReadOnlyDictionary<string, string?> environment, TimeProvider clock, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var configuration = environment.Where(e => e.Key.Contains("__", StringComparison.Ordinal))
            .ToDictionary(e => e.Key.Replace("__", ":", StringComparison.Ordinal), e => e.Value);
        var cli = new CreditsCli(output, error, name => environment.GetValueOrDefault(name), configuration) { Clock = clock };
        var code = await cli.RunAsync(args);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    /// <summary>Plays the queue host: runs every visible message once (or the first <paramref name="limit"/>), deleting those that succeed.</summary>
    private static async Task<int> DrainAsync(ServiceProvider app, int limit = int.MaxValue, long dequeueCount = 1)
    {
        var store = app.GetRequiredService<BulkStore>();
        var worker = app.GetRequiredService<BulkWorker>();
        var ran = 0;
        while (ran < limit)
        {
            QueueMessage[] messages = (await store.Queue.ReceiveMessagesAsync(maxMessages: 1, visibilityTimeout: TimeSpan.FromMinutes(5))).Value;
            if (messages.Length == 0)
            {
                break;
            }

            var message = messages[0];
            ran++;
            try
            {
                await worker.HandleAsync(message.Body, dequeueCount, message.MessageId, CancellationToken.None);
                await store.Queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            }
            catch (CreditGrants.Polar.PolarException)
            {
                // As the host does after the last delivery: out of the queue (into the poison queue).
                await store.Queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            }
        }

        return ran;
    }

    private async Task<string> SubmitAsync(string csv)
    {
        var run = await Credits("bulk", "submit", Write(csv), "--storage", Storage, "--json");
        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        return JsonDocument.Parse(run.Out).RootElement.GetProperty("jobId").GetString()!;
    }

    [Fact]
    public async Task Submit_names_the_batch_after_the_file_so_another_batch_is_another_job()
    {
        var first = await Credits("bulk", "submit", Write(File, "welcome.csv"), "--storage", Storage, "--json");
        var renamed = await Credits("bulk", "submit", Write(File, "december.csv"), "--storage", Storage, "--json");
        var named = await Credits("bulk", "submit", Write(File, "other.csv"), "--storage", Storage, "--json", "--batch", "welcome");

        static string JobId(CliRun run) => JsonDocument.Parse(run.Out).RootElement.GetProperty("jobId").GetString()!;
        Assert.NotEqual(JobId(first), JobId(renamed));
        Assert.Equal(JobId(first), JobId(named));
    }

    [Fact]
    public async Task Submit_prints_the_job_id_and_the_same_file_again_is_the_same_job()
    {
        var first = await Credits("bulk", "submit", Write(File), "--storage", Storage, "--batch", "welcome");
        var again = await Credits("bulk", "submit", Write(File, "copy.csv"), "--storage", Storage, "--json", "--batch", "welcome");

        Assert.Equal(ExitCodes.Ok, first.ExitCode);
        var json = JsonDocument.Parse(again.Out).RootElement;
        var jobId = json.GetProperty("jobId").GetString()!;
        Assert.Contains($"Submitted bulk job {jobId} (queued)", first.Out, StringComparison.Ordinal);
        Assert.False(json.GetProperty("created").GetBoolean());
        var queued = await _app.GetRequiredService<BulkStore>().Queue.PeekMessagesAsync(maxMessages: 32);
        Assert.Equal(BulkMessage.PlanKind, BulkMessage.Parse(Assert.Single(queued.Value).Body).Kind);
    }

    [Fact]
    public async Task Status_reports_the_totals_once_the_app_has_processed_the_job()
    {
        var jobId = await SubmitAsync(File);
        var queued = await Credits("bulk", "status", jobId, "--storage", Storage, "--json");
        await DrainAsync(_app);

        var done = await Credits("bulk", "status", jobId, "--storage", Storage);
        var json = await Credits("bulk", "status", jobId, "--storage", Storage, "--json");

        Assert.Equal("queued", JsonDocument.Parse(queued.Out).RootElement.GetProperty("status").GetString());
        Assert.Equal(ExitCodes.Ok, done.ExitCode);
        Assert.Contains($"Job        {jobId}  completed", done.Out, StringComparison.Ordinal);
        Assert.Contains("Granted    2 (12 units)", done.Out, StringComparison.Ordinal);
        Assert.Contains($"Results    results-{_id}/{jobId}.csv", done.Out, StringComparison.Ordinal);
        var totals = JsonDocument.Parse(json.Out).RootElement.GetProperty("totals");
        Assert.Equal(2, totals.GetProperty("granted").GetInt64());
    }

    [Fact]
    public async Task Status_of_a_job_with_rejected_rows_exits_5()
    {
        var jobId = await SubmitAsync("external_customer_id,units\nuser-1,5\nuser-2,lots\n");
        await DrainAsync(_app);

        var run = await Credits("bulk", "status", jobId, "--storage", Storage);

        Assert.Equal(ExitCodes.RowsRejected, run.ExitCode);
        Assert.Contains("completed_with_errors", run.Out, StringComparison.Ordinal);
        Assert.Contains("Rejected   1", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_polls_on_its_clock_until_the_job_ends()
    {
        var jobId = await SubmitAsync(File);
        // Each wait of the watch lets the app process one message, and takes no time.
        var clock = new StepClock(() => DrainAsync(_app, limit: 1));

        var run = await Credits(Settings, clock, "bulk", "status", jobId, "--storage", Storage, "--watch", "--interval", "30");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Equal(2, clock.Waits);
        Assert.Equal([TimeSpan.FromSeconds(30)], clock.Delays.Distinct());
        var lines = run.Out.Split(Environment.NewLine);
        Assert.StartsWith("queued: 0 of ? rows done", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("running: 0 of 2 rows done (0 of 1 chunks)", lines[1], StringComparison.Ordinal);
        Assert.Contains("completed", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_says_what_may_be_wrong_when_a_job_makes_no_progress_for_two_minutes()
    {
        var jobId = await SubmitAsync(File);
        var waits = 0;
        // Nobody processes the queue during the first three waits of a minute each; then the app catches up.
        var clock = new StepClock(() => Interlocked.Increment(ref waits) > 3 ? DrainAsync(_app) : Task.CompletedTask);

        var run = await Credits(Settings, clock, "bulk", "status", jobId, "--storage", Storage, "--watch", "--interval", "60");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var hint = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("no progress", StringComparison.Ordinal));
        Assert.StartsWith("credits: no progress for 2 minutes: is the Functions app running on this storage account", hint, StringComparison.Ordinal);
        Assert.Contains($"(it reads the queue 'work-{_id}')", hint, StringComparison.Ordinal);
        Assert.Contains("completed", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_gives_no_hint_while_the_job_moves()
    {
        var jobId = await SubmitAsync(File);
        var clock = new StepClock(() => DrainAsync(_app, limit: 1));

        var run = await Credits(Settings, clock, "bulk", "status", jobId, "--storage", Storage, "--watch", "--interval", "120");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.DoesNotContain("no progress", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_enqueues_the_failed_chunks_so_the_job_finishes()
    {
        var jobId = await SubmitAsync(File);
        await DrainAsync(_app, limit: 1);
        await using var emulatorDown = await PolarEmulatorServer.StartAsync(
            new EmulatorOptions { SeedMeter = true, Faults = new FaultOptions { Seed = 3, ErrorRate = 1.0 } });
        await using (var outage = Worker(emulatorDown))
        {
            await DrainAsync(outage, dequeueCount: 5);
        }

        var failed = await Credits("bulk", "status", jobId, "--storage", Storage);
        var retry = await Credits("bulk", "retry", jobId, "--storage", Storage);
        await DrainAsync(_app);
        var finished = await Credits("bulk", "status", jobId, "--storage", Storage, "--json");
        var again = await Credits("bulk", "retry", jobId, "--storage", Storage);
        var againJson = await Credits("bulk", "retry", jobId, "--storage", Storage, "--json");

        Assert.Equal(ExitCodes.Failed, failed.ExitCode);
        Assert.Contains("Failed chunk 0 (lines from 2, 2 rows) after 5 attempts: Polar: ", failed.Out, StringComparison.Ordinal);
        Assert.Contains($"credits bulk retry {jobId}", failed.Out, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, retry.ExitCode);
        Assert.Contains($"Enqueued 1 failed chunk of bulk job {jobId} again (0)", retry.Out, StringComparison.Ordinal);
        Assert.Equal("completed", JsonDocument.Parse(finished.Out).RootElement.GetProperty("status").GetString());
        Assert.Contains("Nothing to retry", again.Out, StringComparison.Ordinal);
        var json = JsonDocument.Parse(Assert.Single(againJson.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.True(json.GetProperty("nothing").GetBoolean());
    }

    [Fact]
    public async Task The_connection_may_come_from_the_environment()
    {
        var environment = new Dictionary<string, string?>(Settings) { [CreditsCli.StorageVariable] = Storage };

        var run = await Credits(environment, TimeProvider.System, "bulk", "submit", Write(File), "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.True(JsonDocument.Parse(run.Out).RootElement.GetProperty("created").GetBoolean());
    }

    [Fact]
    public async Task Without_a_storage_connection_it_exits_2_saying_what_to_give()
    {
        var run = await Credits("bulk", "status", new string('a', 32));

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("--storage", run.Error, StringComparison.Ordinal);
        Assert.Contains(CreditsCli.StorageVariable, run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_connection_string_is_refused_without_printing_it()
    {
        const string Secret = "c3VwZXItc2VjcmV0LWFjY291bnQta2V5";

        var run = await Credits("bulk", "submit", Write(File), "--storage", $"AccountName=acct;AccountKey={Secret};Garbage", "--verbose");

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.DoesNotContain(Secret, run.Out + run.Error, StringComparison.Ordinal);
        Assert.Contains("connection string", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_job_exits_2()
    {
        var status = await Credits("bulk", "status", new string('b', 32), "--storage", Storage);
        var retry = await Credits("bulk", "retry", "not-a-job", "--storage", Storage);

        Assert.Equal(ExitCodes.InvalidInput, status.ExitCode);
        Assert.Contains("No bulk job", status.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.InvalidInput, retry.ExitCode);
    }

    [Fact]
    public async Task A_file_with_an_unusable_header_exits_2_naming_the_columns()
    {
        var run = await Credits("bulk", "submit", Write("who,how_many\nuser-1,5\n"), "--storage", Storage);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("'who', 'how_many'", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_file_exits_2()
    {
        var run = await Credits("bulk", "submit", Path.Combine(_dir, "nope.csv"), "--storage", Storage);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        Assert.Contains("no such file", run.Error, StringComparison.Ordinal);
    }

    private sealed class StepClock(Func<Task> step) : TimeProvider
    {
        public int Waits => Delays.Count;

        public List<TimeSpan> Delays { get; } = [];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Delays.Add(dueTime);
            _ = Task.Run(async () =>
            {
                await step();
                callback(state);
            });
            return new NoTimer();
        }

        private sealed class NoTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task Revoke_of_an_app_job_takes_back_its_rows_and_writes_the_revocation_file_here_or_at_out()
    {
        var job = await SubmitAsync(File);
        var polar = new Dictionary<string, string?>(Settings)
        {
            [PolarConnection.ServerVariable] = _emulator.BaseAddress.AbsoluteUri,
            [PolarConnection.TokenVariable] = _emulator.Token,
        };
        var early = await Credits(polar, TimeProvider.System, "bulk", "revoke", job, "--storage", Storage, "--reason", "wrong file");
        await DrainAsync(_app);
        var output = Path.Combine(_dir, "undo.csv");

        var run = await Credits(polar, TimeProvider.System, "bulk", "revoke", job, "--storage", Storage, "--reason", "wrong file", "--out", output, "--json");

        Assert.Equal(ExitCodes.InvalidInput, early.ExitCode);
        Assert.Contains("once it has ended", early.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        var json = JsonDocument.Parse(run.Out).RootElement;
        Assert.Equal((2, 12m), (json.GetProperty("revoked").GetInt32(), json.GetProperty("unitsRevoked").GetDecimal()));
        var lines = System.IO.File.ReadAllLines(output);
        Assert.Equal(["revoked", "revoked"], lines.Skip(1).Select(l => l.Split(',')[6]));
        Assert.Equal(0m, (await _app.GetRequiredService<CreditGrants.Grants.BalanceService>().GetBalanceAsync("user-1", "API Calls")).Balance);
    }
}

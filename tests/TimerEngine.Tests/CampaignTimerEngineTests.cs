using System.Globalization;
using System.Text.Json;
using Azure.Storage.Blobs;
using CreditFunctions.Functions;
using Microsoft.Azure.WebJobs;

// The engine hands the host its schedule through one static (CampaignTimerSchedule), and each test's timing is kinder on two
// shared cores when the tests take turns.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace TimerEngine.Tests;

/// <summary>The timer's status blob as the host's schedule monitor writes it (Newtonsoft.Json, ISO dates with offsets).</summary>
internal sealed record PersistedStatus(DateTimeOffset Last, DateTimeOffset Next, DateTimeOffset LastUpdated);

/// <summary>
/// What only the host's timer engine can show, shown with the engine itself (the WebJobs SDK with Extensions 3.0.6's timer and
/// Host.Storage 3.0.14's blob lock and schedule monitor on Azurite) running the app's <see cref="RunCampaigns"/>: the
/// schedule comes from the app's attribute and settings, two instances with one host id run each occurrence once (the
/// listener's singleton lock), and an instance that was down across occurrences runs once on restart with
/// <c>IsPastDue</c>, its schedule status having been kept in storage. The tests set <c>CampaignSchedule</c> to every two
/// seconds (<c>*/2 * * * * *</c>) instead of the app's five minutes, and the engine keeps the schedule monitor on for it
/// (see <see cref="CampaignTimerEngine"/>).
/// </summary>
public sealed class CampaignTimerEngineTests
{
    private const string EveryTwoSeconds = "*/2 * * * * *";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(40);

    /// <summary>An instance without the lock tries again every 15 seconds (the host's least), not host.json's minute.</summary>
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(15);

    private static string OnceCampaign(string id, DateTimeOffset at) =>
        $$"""
        {"id":"{{id}}","units":5,"schedule":{"once":"{{at.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}}"},
         "audience":{"externalIds":["user-1","user-2"]},"grantPolicy":"oncePerCustomer"}
        """;

    private static void AssertIsOccurrence(DateTime? next)
    {
        Assert.NotNull(next);
        Assert.Equal((0, 0), (next.Value.Second % 2, next.Value.Millisecond));
    }

    /// <summary>
    /// Lets instances "a" and "b" (already started with one host id) run four occurrences, stops the one that ran them with
    /// <paramref name="stop"/>, and lets the other run three. Asserts that while the holder had the lock the other ran nothing,
    /// that once the other took over the holder ran nothing more, that nothing failed, and that each occurrence (the host's
    /// <c>ScheduleStatus.Next</c> when it runs it) ran once in total, in order.
    /// </summary>
    private static async Task AssertEachOccurrenceRunsOnceAcrossAsync(Recorder recorder, Func<string, Task> stop)
    {
        var holder = (await recorder.WaitForAsync(i => i.Count >= 4))[0].Engine;
        await stop(holder);
        var atStop = recorder.Snapshot();
        var other = holder == "a" ? "b" : "a";

        var all = await recorder.WaitForAsync(i => i.Count(x => x.Engine == other) >= 3);

        Assert.DoesNotContain(atStop, i => i.Engine == other);
        var takeover = all.ToList().FindIndex(i => i.Engine == other);
        Assert.All(all.Take(takeover), i => Assert.Equal(holder, i.Engine));
        Assert.All(all.Skip(takeover), i => Assert.Equal(other, i.Engine));
        Assert.All(all, i => Assert.Null(i.Error));
        Assert.All(all, i => AssertIsOccurrence(i.Next));
        var occurrences = all.Select(i => i.Next!.Value).ToList();
        Assert.Equal(occurrences.Distinct().Count(), occurrences.Count);
        Assert.Equal(occurrences.Order(), occurrences);
    }

    [Fact]
    public void The_adapter_binds_the_apps_trigger_settings_read_by_reflection()
    {
        Assert.Equal("%CampaignSchedule%", CampaignTimerEngine.AppTrigger.Schedule);
        Assert.False(CampaignTimerEngine.AppTrigger.RunOnStartup);
        Assert.Equal(
            (CampaignTimerEngine.AppTrigger.RunOnStartup, CampaignTimerEngine.AppTrigger.UseMonitor),
            (CampaignTimerEngine.AdapterTrigger.RunOnStartup, CampaignTimerEngine.AdapterTrigger.UseMonitor));
        Assert.Equal(typeof(CampaignTimerSchedule), CampaignTimerEngine.AdapterTrigger.ScheduleType);
    }

    [Fact]
    public async Task The_timer_fires_on_the_apps_schedule_and_the_apps_function_enqueues_the_due_campaign()
    {
        await using var app = await CampaignApp.StartAsync(EveryTwoSeconds);
        await app.UploadAsync("launch", OnceCampaign("launch", DateTimeOffset.UtcNow.AddMinutes(-1)));
        var recorder = new Recorder(Patience);

        await using (var engine = await CampaignTimerEngine.StartAsync(app.HostId, app.Services, app.Settings, recorder.For("a")))
        {
            await recorder.WaitForAsync(i => i.Count >= 1);
            Assert.Equal(EveryTwoSeconds, engine.Expression);
        }

        var first = recorder.Snapshot()[0];
        Assert.Null(first.Error);
        Assert.False(first.IsPastDue);
        AssertIsOccurrence(first.Next);
        var state = await app.StateAsync("launch");
        var occurrence = Assert.Single(state.Occurrences);
        Assert.NotNull(occurrence.JobId);
        Assert.Equal((2L, occurrence.JobId), (state.GrantsReserved, Assert.Single(state.PendingJobs).JobId));
    }

    [Fact]
    public async Task Two_instances_with_one_host_id_run_each_occurrence_once_and_the_second_takes_over_when_the_first_stops()
    {
        await using var app = await CampaignApp.StartAsync(EveryTwoSeconds);
        var recorder = new Recorder(Patience);
        var starting = new[] { "a", "b" }.Select(name => CampaignTimerEngine.StartAsync(app.HostId, app.Services, app.Settings, recorder.For(name), Recovery));
        var engines = await Task.WhenAll(starting);
        try
        {
            await AssertEachOccurrenceRunsOnceAcrossAsync(recorder, holder => engines[holder == "a" ? 0 : 1].StopAsync());
        }
        finally
        {
            foreach (var engine in engines)
            {
                await engine.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Two_instances_in_two_processes_with_one_host_id_run_each_occurrence_once_and_the_second_takes_over_when_the_first_stops()
    {
        await using var app = await CampaignApp.StartAsync(EveryTwoSeconds);
        var recorder = new Recorder(Patience);
        var starting = new[] { "a", "b" }.Select(name => EngineProcess.StartAsync(name, app.HostId, app.Settings, Recovery, recorder, Patience));
        var processes = await Task.WhenAll(starting);
        try
        {
            await AssertEachOccurrenceRunsOnceAcrossAsync(recorder, holder => processes[holder == "a" ? 0 : 1].StopAsync(Patience));
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_instance_restarted_after_missing_occurrences_runs_once_with_IsPastDue_and_the_app_catches_up_the_missed_campaign()
    {
        await using var app = await CampaignApp.StartAsync(EveryTwoSeconds);
        var recorder = new Recorder(Patience);
        await using (await CampaignTimerEngine.StartAsync(app.HostId, app.Services, app.Settings, recorder.For("before")))
        {
            await recorder.WaitForAsync(i => i.Count >= 1);
        }

        var lastBeforeStop = recorder.Snapshot()[^1];
        // While the instance is down: a one-off campaign falls due, and several of the timer's occurrences pass.
        var dueAt = DateTimeOffset.UtcNow.AddSeconds(2);
        await app.UploadAsync("while-down", OnceCampaign("while-down", dueAt));
        var notSeen = await app.StateAsync("while-down");
        while (DateTimeOffset.UtcNow < dueAt.AddSeconds(4))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        var statusBlob = new BlobServiceClient(CampaignApp.StorageConnection).GetBlobContainerClient(CampaignApp.HostContainer)
            .GetBlobClient($"timers/{app.HostId}/{typeof(CampaignTimerJob).FullName}.{nameof(CampaignTimerJob.Run)}/status");
        var persisted = JsonSerializer.Deserialize<PersistedStatus>((await statusBlob.DownloadContentAsync()).Value.Content.ToString())!;
        var restartedAt = DateTimeOffset.UtcNow;

        await using (await CampaignTimerEngine.StartAsync(app.HostId, app.Services, app.Settings, recorder.For("after")))
        {
            await recorder.WaitForAsync(i => i.Count(x => x.Engine == "after") >= 2);
        }

        var after = recorder.Snapshot().Where(i => i.Engine == "after").ToList();
        Assert.Empty(notSeen.Occurrences);
        // The status the stopped instance left in storage names an occurrence after its last run and before the restart.
        Assert.True(persisted.Next > new DateTimeOffset(lastBeforeStop.Next!.Value) && persisted.Next < restartedAt);
        Assert.All(after, i => Assert.Null(i.Error));
        // The first run after the restart is the missed occurrence the stopped instance had recorded as next, past due; the
        // several occurrences missed count as one run, and the schedule goes on as usual after it.
        Assert.True(after[0].IsPastDue);
        Assert.Equal(persisted.Next, new DateTimeOffset(after[0].Next!.Value));
        Assert.All(after.Skip(1), i => Assert.False(i.IsPastDue));
        var state = await app.StateAsync("while-down");
        var occurrence = Assert.Single(state.Occurrences);
        Assert.Equal(dueAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), occurrence.Occurrence);
        Assert.NotNull(occurrence.JobId);
        Assert.Equal(2L, state.GrantsReserved);
    }
}

using System.Reflection;
using System.Text.Json;
using CreditFunctions.Functions;
using CreditGrants.Storage.Campaigns;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Extensions.Timers;
using Microsoft.Azure.WebJobs.Host;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NCrontab;
using WorkerScheduleStatus = Microsoft.Azure.Functions.Worker.ScheduleStatus;
using WorkerTimerInfo = Microsoft.Azure.Functions.Worker.TimerInfo;
using WorkerTimerTrigger = Microsoft.Azure.Functions.Worker.TimerTriggerAttribute;

namespace TimerEngine.Tests;

/// <summary>
/// The Functions host's timer engine (the WebJobs SDK with <c>AddTimers()</c> from Microsoft.Azure.WebJobs.Extensions 3.0.6)
/// running the app's own <see cref="RunCampaigns"/> against Azurite. The schedule monitor (the timer's status blob,
/// <c>azure-webjobs-hosts/timers/{hostId}/…/status</c>) and the singleton lock (a blob lease,
/// <c>azure-webjobs-hosts/locks/{hostId}/…Listener</c>) are Microsoft.Azure.WebJobs.Host.Storage 3.0.14's, in storage, so
/// engines started with the same host id share them as two instances of the app do.
/// </summary>
/// <remarks>
/// Nothing of the trigger is copied: the schedule is the app attribute's <c>Schedule</c> (<c>%CampaignSchedule%</c>)
/// resolved from the app's settings, and the adapter's <c>RunOnStartup</c> and <c>UseMonitor</c> are checked against the
/// app attribute's at start. The singleton options come from the app's <c>host.json</c> (its <c>singleton</c> section; the
/// host's defaults for what it leaves out). One deviation, stated where used: the extension switches the schedule monitor off
/// for an expression that fires more than once a minute (a test's fast schedule), while the app's own
/// <c>0 */5 * * * *</c> keeps it on; the adapter therefore hands the host a <see cref="CampaignTimerSchedule"/> that parses the
/// resolved expression with the extension's own <see cref="CronSchedule"/>, so the monitor stays on as in production.
/// </remarks>
internal sealed class CampaignTimerEngine : IAsyncDisposable
{
    private readonly IHost _host;
    private bool _stopped;

    private CampaignTimerEngine(IHost host, string expression)
    {
        _host = host;
        Expression = expression;
    }

    /// <summary>The schedule the engine runs: the app attribute's expression with its <c>%Setting%</c> resolved.</summary>
    public string Expression { get; }

    /// <summary>The app's timer attribute, read by reflection from <see cref="RunCampaigns.Run"/>.</summary>
    public static WorkerTimerTrigger AppTrigger { get; } = typeof(RunCampaigns).GetMethod(nameof(RunCampaigns.Run))!.GetParameters()
        .Select(p => p.GetCustomAttribute<WorkerTimerTrigger>()).Single(a => a is not null)!;

    /// <summary>The adapter's timer attribute, the one the engine binds.</summary>
    public static TimerTriggerAttribute AdapterTrigger { get; } = typeof(CampaignTimerJob).GetMethod(nameof(CampaignTimerJob.Run))!.GetParameters()
        .Select(p => p.GetCustomAttribute<TimerTriggerAttribute>()).Single(a => a is not null)!;

    /// <summary>
    /// Starts an engine on the app's timer function: the host's listener takes the singleton lock for <paramref name="hostId"/>
    /// (or waits for it, polling), checks the schedule status for a missed occurrence and starts the timer. When this returns,
    /// a past-due run on startup has already finished. <paramref name="around"/> runs each invocation instead of calling the
    /// function directly, so that a test can record it.
    /// </summary>
    /// <param name="hostId">The WebJobs host id: engines with the same id share the lock and the schedule status.</param>
    /// <param name="app">The app's services (<c>AddCreditFunctions</c>), for the function's <see cref="CampaignScheduler"/>.</param>
    /// <param name="appSettings">The app's settings, which resolve the attribute's <c>%CampaignSchedule%</c>.</param>
    /// <param name="around">Runs one invocation; <c>run</c> calls the app's function with the trigger's <c>TimerInfo</c>.</param>
    /// <param name="listenerLockRecoveryPollingInterval">How often an engine without the lock tries to take it (host.json's or
    /// the host's minute by default; at least 15 seconds).</param>
    public static async Task<CampaignTimerEngine> StartAsync(string hostId, IServiceProvider app, IConfiguration appSettings,
        CampaignTimerJob.Around around, TimeSpan? listenerLockRecoveryPollingInterval = null)
    {
        if (AppTrigger.RunOnStartup != AdapterTrigger.RunOnStartup || AppTrigger.UseMonitor != AdapterTrigger.UseMonitor)
        {
            throw new InvalidOperationException(
                $"The app's timer has RunOnStartup={AppTrigger.RunOnStartup}, UseMonitor={AppTrigger.UseMonitor}; the engine's adapter " +
                $"has RunOnStartup={AdapterTrigger.RunOnStartup}, UseMonitor={AdapterTrigger.UseMonitor}. Make the adapter's attribute match.");
        }

        var expression = WebJobsAdapter.Resolve(AppTrigger.Schedule, appSettings);
        CampaignTimerSchedule.Use(expression);
        var singleton = SingletonHostJson.Read(Path.Combine(AppContext.BaseDirectory, "host.json"));
        var connection = appSettings["AzureWebJobsStorage"]
            ?? throw new InvalidOperationException("The app has no setting 'AzureWebJobsStorage' for the host's storage.");
        var function = new RunCampaigns(app.GetRequiredService<CampaignScheduler>());
        var host = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["AzureWebJobsStorage"] = connection }))
            .ConfigureWebJobs(builder =>
            {
                builder.UseHostId(hostId);
                builder.AddAzureStorageCoreServices();
                builder.AddTimers();
            })
            .ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning))
            .ConfigureServices(services =>
            {
                services.Configure<SingletonOptions>(options =>
                {
                    options.LockPeriod = singleton.LockPeriod;
                    options.ListenerLockPeriod = singleton.ListenerLockPeriod;
                    options.LockAcquisitionTimeout = singleton.LockAcquisitionTimeout;
                    options.LockAcquisitionPollingInterval = singleton.LockAcquisitionPollingInterval;
                    options.ListenerLockRecoveryPollingInterval = listenerLockRecoveryPollingInterval ?? singleton.ListenerLockRecoveryPollingInterval;
                });
                services.AddSingleton<ITypeLocator>(new WebJobsAdapter.OnlyTypes(typeof(CampaignTimerJob)));
                services.AddSingleton<IJobActivator>(new WebJobsAdapter.SingleInstance(new CampaignTimerJob(function, around)));
            })
            .Build();
        await host.StartAsync();
        return new CampaignTimerEngine(host, expression);
    }

    /// <summary>Stops the host as a shutting-down instance does: the timer stops and the singleton lock is released.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _host.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
    }
}

/// <summary>
/// The adapter the engine discovers: one WebJobs timer function that hands each invocation to the app's own
/// <see cref="RunCampaigns"/>, with the trigger's <c>TimerInfo</c> given as the isolated worker receives it.
/// </summary>
public sealed class CampaignTimerJob
{
    /// <summary>Runs one invocation: <c>run</c> calls the app's function.</summary>
    public delegate Task Around(TimerInfo timer, Func<Task> run);

    private readonly RunCampaigns _function;
    private readonly Around _around;

    internal CampaignTimerJob(RunCampaigns function, Around around)
    {
        _function = function;
        _around = around;
    }

    [FunctionName(nameof(RunCampaigns))]
    public Task Run([TimerTrigger(typeof(CampaignTimerSchedule), RunOnStartup = false)] TimerInfo timer, CancellationToken cancellationToken) =>
        _around(timer, () => _function.Run(ToWorker(timer), cancellationToken));

    /// <summary>The host's <c>TimerInfo</c> as the worker gets it: the schedule status (times as the host gives them) and IsPastDue.</summary>
    public static WorkerTimerInfo ToWorker(TimerInfo timer) => new()
    {
        IsPastDue = timer.IsPastDue,
        ScheduleStatus = timer.ScheduleStatus is { } status
            ? new WorkerScheduleStatus { Last = status.Last, Next = status.Next, LastUpdated = status.LastUpdated }
            : null,
    };
}

/// <summary>
/// The app's schedule as the host parses it (the extension's <see cref="CronSchedule"/> over NCrontab, six fields), handed to
/// the host as a schedule type so that the schedule monitor stays on for a test's sub-minute expression (see
/// <see cref="CampaignTimerEngine"/>). The engine sets the expression before it starts a host; tests do not run in parallel.
/// </summary>
public sealed class CampaignTimerSchedule : TimerSchedule
{
    private static CronSchedule? _current;

    private readonly CronSchedule _schedule = _current ?? throw new InvalidOperationException("No engine set the app's schedule.");

    public override bool AdjustForDST => _schedule.AdjustForDST;

    internal static void Use(string expression)
    {
        var cron = CrontabSchedule.TryParse(expression, new CrontabSchedule.ParseOptions { IncludingSeconds = true })
            ?? throw new InvalidOperationException($"'{expression}' is not a six-field cron expression, which the host requires.");
        _current = new CronSchedule(cron);
    }

    public override DateTime GetNextOccurrence(DateTime now) => _schedule.GetNextOccurrence(now);

    public override string ToString() => _schedule.ToString();
}

/// <summary>The <c>singleton</c> section of the app's host.json, with the host's defaults for what it leaves out.</summary>
internal sealed record SingletonHostJson(TimeSpan LockPeriod, TimeSpan ListenerLockPeriod, TimeSpan LockAcquisitionTimeout,
    TimeSpan LockAcquisitionPollingInterval, TimeSpan ListenerLockRecoveryPollingInterval)
{
    public static SingletonHostJson Read(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        var defaults = new SingletonOptions();
        if (!document.RootElement.TryGetProperty("singleton", out var singleton))
        {
            return new SingletonHostJson(defaults.LockPeriod, defaults.ListenerLockPeriod, defaults.LockAcquisitionTimeout,
                defaults.LockAcquisitionPollingInterval, defaults.ListenerLockRecoveryPollingInterval);
        }

        TimeSpan Time(string name, TimeSpan fallback) =>
            singleton.TryGetProperty(name, out var v) ? TimeSpan.Parse(v.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : fallback;
        return new SingletonHostJson(Time("lockPeriod", defaults.LockPeriod), Time("listenerLockPeriod", defaults.ListenerLockPeriod),
            Time("lockAcquisitionTimeout", defaults.LockAcquisitionTimeout),
            Time("lockAcquisitionPollingInterval", defaults.LockAcquisitionPollingInterval),
            Time("listenerLockRecoveryPollingInterval", defaults.ListenerLockRecoveryPollingInterval));
    }
}

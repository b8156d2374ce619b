using System.Threading.RateLimiting;
using CreditGrants.Polar.Http;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Polar.Budget;

/// <summary>
/// Where the organization's request budget is counted for every process of the app: per fixed one-minute window (UTC,
/// aligned as Polar's are), how many requests have been taken. Implementations take permits in small blocks with optimistic
/// concurrency, so that any number of instances share one count.
/// </summary>
public interface IRequestBudgetStore
{
    /// <summary>
    /// Takes up to <paramref name="wanted"/> permits of the window starting at <paramref name="window"/>, without the window's
    /// total passing <paramref name="ceiling"/>.
    /// </summary>
    /// <returns>The permits taken: from 0 (the window is spent up to the ceiling) to <paramref name="wanted"/>.</returns>
    /// <exception cref="Exception">The store cannot be reached; the caller falls back to its own per-process budget.</exception>
    Task<int> TakeAsync(DateTimeOffset window, int wanted, int ceiling, CancellationToken cancellationToken);
}

/// <summary>
/// Which kind of work a Polar request serves. Interactive requests (the HTTP grant API) may use the whole window; background
/// work (bulk jobs, campaigns, operators' runs) stops short of the share kept for them, so a large job never starves a signup.
/// </summary>
public static class PolarTraffic
{
    private static readonly AsyncLocal<bool> InteractiveFlow = new();

    /// <summary>Whether the current flow serves an interactive caller.</summary>
    public static bool IsInteractive => InteractiveFlow.Value;

    /// <summary>Marks the rest of the current async flow (until disposed) as interactive.</summary>
    public static IDisposable Interactive()
    {
        var before = InteractiveFlow.Value;
        InteractiveFlow.Value = true;
        return new Restore(before);
    }

    /// <summary>
    /// Marks the rest of the current async flow (until disposed) as background work, even inside an interactive one: work
    /// that serves no waiting caller (a sweep of the customer list) stays within the background share.
    /// </summary>
    public static IDisposable Background()
    {
        var before = InteractiveFlow.Value;
        InteractiveFlow.Value = false;
        return new Restore(before);
    }

    private sealed class Restore(bool before) : IDisposable
    {
        public void Dispose() => InteractiveFlow.Value = before;
    }
}

/// <summary>
/// The organization's request budget shared by every process through an <see cref="IRequestBudgetStore"/> (Azure Table
/// storage in the app): fixed one-minute windows aligned to the UTC minute, as Polar counts them, taken in blocks of a few
/// permits. Background work may take the window up to <c>RequestsPerMinute − interactive share</c>; interactive requests up to
/// the whole. Each kind of traffic keeps its own permits and takes its own turn at the store, so an interactive request
/// never waits behind background work's round trip to the store (a sweep keeps the store busy). When the window is spent,
/// callers wait for the next one. When the store cannot be reached, the process's own
/// sliding-window budget (<see cref="PolarRequestBudget"/>) takes over for <see cref="StoreRetryInterval"/>, then the store is
/// tried again.
/// </summary>
public sealed partial class SharedRequestBudget : RateLimiter
{
    /// <summary>How long the store is left alone after it failed.</summary>
    public static readonly TimeSpan StoreRetryInterval = TimeSpan.FromSeconds(30);

    private readonly IRequestBudgetStore _store;
    private readonly PolarRequestBudget _fallback;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Pool _interactive = new();
    private readonly Pool _background = new();
    private long _storeDownUntilTicks = DateTimeOffset.MinValue.UtcTicks;
    private long _granted;

    /// <param name="store">Where the windows are counted.</param>
    /// <param name="requestsPerMinute">The organization's limit (500 production, 100 sandbox).</param>
    /// <param name="interactiveSharePercent">The share of each window (0–90 %) that background work leaves to interactive requests.</param>
    /// <param name="fallback">The per-process budget used while the store cannot be reached.</param>
    /// <param name="time">The clock windows are read from.</param>
    /// <param name="logger">Says when the store fails and when it is back.</param>
    public SharedRequestBudget(IRequestBudgetStore store, int requestsPerMinute, int interactiveSharePercent, PolarRequestBudget fallback,
        TimeProvider time, ILogger<SharedRequestBudget> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(requestsPerMinute, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(interactiveSharePercent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(interactiveSharePercent, 90);
        _store = store;
        _fallback = fallback;
        _time = time;
        _logger = logger;
        RequestsPerMinute = requestsPerMinute;
        InteractiveReserve = requestsPerMinute * interactiveSharePercent / 100;
        BlockSize = Math.Clamp(requestsPerMinute / 50, 1, 25);
    }

    public int RequestsPerMinute { get; }

    /// <summary>Permits of each window that background work leaves to interactive requests.</summary>
    public int InteractiveReserve { get; }

    /// <summary>Permits taken from the store at a time: few enough that idle instances waste little of a window.</summary>
    public int BlockSize { get; }

    /// <summary>The first instant of the one-minute window <paramref name="at"/> falls in.</summary>
    public static DateTimeOffset WindowOf(DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero);
    }

    public override TimeSpan? IdleDuration => null;

    public override RateLimiterStatistics? GetStatistics() => new() { TotalSuccessfulLeases = Interlocked.Read(ref _granted) };

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => Lease.Refused;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        var interactive = PolarTraffic.IsInteractive;
        var ceiling = interactive ? RequestsPerMinute : RequestsPerMinute - InteractiveReserve;
        var pool = interactive ? _interactive : _background;
        while (true)
        {
            var useFallback = false;
            DateTimeOffset window;
            await pool.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var now = _time.GetUtcNow();
                window = WindowOf(now);
                if (window != pool.Window)
                {
                    (pool.Window, pool.Left) = (window, 0);
                }

                if (pool.Left >= permitCount)
                {
                    pool.Left -= permitCount;
                    Interlocked.Add(ref _granted, permitCount);
                    return Lease.Granted;
                }

                if (now.UtcTicks < Interlocked.Read(ref _storeDownUntilTicks))
                {
                    useFallback = true;
                }
                else
                {
                    try
                    {
                        pool.Left += await _store.TakeAsync(window, Math.Max(BlockSize, permitCount - pool.Left), ceiling, cancellationToken).ConfigureAwait(false);
                        if (Interlocked.Exchange(ref _storeDownUntilTicks, DateTimeOffset.MinValue.UtcTicks) != DateTimeOffset.MinValue.UtcTicks)
                        {
                            LogStoreBack();
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        Interlocked.Exchange(ref _storeDownUntilTicks, (now + StoreRetryInterval).UtcTicks);
                        LogStoreDown(ex.GetType().Name, StoreRetryInterval.TotalSeconds);
                        useFallback = true;
                    }

                    if (!useFallback && pool.Left >= permitCount)
                    {
                        pool.Left -= permitCount;
                        Interlocked.Add(ref _granted, permitCount);
                        return Lease.Granted;
                    }
                }
            }
            finally
            {
                pool.Gate.Release();
            }

            if (useFallback)
            {
                var lease = await _fallback.Limiter.AcquireAsync(permitCount, cancellationToken).ConfigureAwait(false);
                if (lease.IsAcquired)
                {
                    Interlocked.Add(ref _granted, permitCount);
                }

                return lease;
            }

            // This window is spent (up to this caller's ceiling): wait for the next one.
            var wait = window.AddMinutes(1) - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _interactive.Gate.Dispose();
            _background.Gate.Dispose();
        }

        base.Dispose(disposing);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The shared Polar request budget cannot be reached ({Error}); this process counts its own requests for {Seconds} s")]
    private partial void LogStoreDown(string error, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "The shared Polar request budget is reachable again")]
    private partial void LogStoreBack();

    /// <summary>One kind of traffic's permits taken from the store and not used yet, for the window they belong to.</summary>
    private sealed class Pool
    {
        /// <summary>One caller at a time uses the pool or takes from the store for it.</summary>
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public DateTimeOffset Window { get; set; }

        public int Left { get; set; }
    }

    private sealed class Lease(bool acquired) : RateLimitLease
    {
        public static readonly Lease Granted = new(true);
        public static readonly Lease Refused = new(false);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}

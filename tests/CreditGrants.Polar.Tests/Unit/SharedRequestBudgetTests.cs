using CreditGrants.Polar.Budget;
using CreditGrants.Polar.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CreditGrants.Polar.Tests.Unit;

/// <summary>The request budget shared by several processes through one store, on a fake clock.</summary>
public sealed class SharedRequestBudgetTests
{
    /// <summary>A store in memory with the semantics of the table: per window, never past the ceiling.</summary>
    private sealed class MemoryStore : IRequestBudgetStore
    {
        private readonly Dictionary<DateTimeOffset, int> _taken = [];

        public bool Down { get; set; }

        public int Calls { get; private set; }

        public int Taken(DateTimeOffset window)
        {
            lock (_taken)
            {
                return _taken.GetValueOrDefault(window);
            }
        }

        public Task<int> TakeAsync(DateTimeOffset window, int wanted, int ceiling, CancellationToken cancellationToken)
        {
            Calls++;
            if (Down)
            {
                throw new HttpRequestException("storage is down");
            }

            lock (_taken)
            {
                var granted = Math.Max(0, Math.Min(wanted, ceiling - _taken.GetValueOrDefault(window)));
                _taken[window] = _taken.GetValueOrDefault(window) + granted;
                return Task.FromResult(granted);
            }
        }
    }

    private static readonly DateTimeOffset Start = new(2026, 11, 30, 9, 0, 10, TimeSpan.Zero);

    private static SharedRequestBudget Process(MemoryStore store, FakeTimeProvider clock, int limit = 100, int share = 20) =>
        new(store, limit, share, new PolarRequestBudget(limit, autoReplenish: false), clock, NullLogger<SharedRequestBudget>.Instance);

    [Fact]
    public async Task Three_processes_together_never_take_more_than_the_background_share_of_a_window()
    {
        var clock = new FakeTimeProvider(Start);
        var store = new MemoryStore();
        var processes = Enumerable.Range(0, 3).Select(_ => Process(store, clock)).ToList();

        // Each process takes permits until one does not come at once: the window is spent for it.
        var granted = 0;
        var waiting = new List<Task<System.Threading.RateLimiting.RateLimitLease>>();
        foreach (var process in processes)
        {
            while (true)
            {
                var lease = process.AcquireAsync(1).AsTask();
                if (await Task.WhenAny(lease, Task.Delay(TimeSpan.FromMilliseconds(200))) != lease)
                {
                    waiting.Add(lease);
                    break;
                }

                granted++;
            }
        }

        var window = SharedRequestBudget.WindowOf(Start);
        Assert.Equal(80, store.Taken(window));
        // What a process took in its last block and did not use is lost to the others: at most a block less one each.
        Assert.InRange(granted, 80 - (3 * (processes[0].BlockSize - 1)), 80);
        Assert.All(waiting, w => Assert.False(w.IsCompleted));
        clock.Advance(TimeSpan.FromSeconds(50));
        foreach (var lease in waiting)
        {
            Assert.True((await lease.WaitAsync(TimeSpan.FromSeconds(10))).IsAcquired);
        }

        Assert.InRange(store.Taken(window.AddMinutes(1)), 3, 3 * processes[0].BlockSize);
    }

    [Fact]
    public async Task Interactive_requests_use_the_share_background_work_leaves_them()
    {
        var clock = new FakeTimeProvider(Start);
        var store = new MemoryStore();
        var worker = Process(store, clock);
        var api = Process(store, clock);
        for (var i = 0; i < 80; i++)
        {
            (await worker.AcquireAsync(1)).Dispose();
        }

        var interactive = 0;
        using (PolarTraffic.Interactive())
        {
            for (var i = 0; i < 20; i++)
            {
                interactive += (await api.AcquireAsync(1).AsTask().WaitAsync(TimeSpan.FromSeconds(5))).IsAcquired ? 1 : 0;
            }
        }

        Assert.Equal(20, interactive);
        Assert.Equal(100, store.Taken(SharedRequestBudget.WindowOf(Start)));
        Assert.False(PolarTraffic.IsInteractive);
    }

    /// <summary>A store whose background takes (ceiling below the limit) wait until released: a slow storage round trip.</summary>
    private sealed class SlowBackgroundStore(int limit) : IRequestBudgetStore
    {
        private readonly MemoryStore _inner = new();

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource BackgroundArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<int> TakeAsync(DateTimeOffset window, int wanted, int ceiling, CancellationToken cancellationToken)
        {
            if (ceiling < limit)
            {
                BackgroundArrived.TrySetResult();
                await Release.Task.WaitAsync(cancellationToken);
            }

            return await _inner.TakeAsync(window, wanted, ceiling, cancellationToken);
        }
    }

    [Fact]
    public async Task An_interactive_request_does_not_wait_behind_background_works_round_trip_to_the_store()
    {
        var clock = new FakeTimeProvider(Start);
        var store = new SlowBackgroundStore(limit: 100);
        var process = new SharedRequestBudget(store, 100, 20, new PolarRequestBudget(100, autoReplenish: false), clock,
            NullLogger<SharedRequestBudget>.Instance);

        // A sweep's request is taking permits from the store, which answers slowly (a loaded table).
        var background = process.AcquireAsync(1).AsTask();
        await store.BackgroundArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Task<System.Threading.RateLimiting.RateLimitLease> interactive;
        using (PolarTraffic.Interactive())
        {
            interactive = process.AcquireAsync(1).AsTask();
        }

        // The HTTP grant gets its permit meanwhile: it takes its own turn at the store. (Before, it queued behind the sweep's
        // round trip, which never ends here: the wait is a guard against that hang, not a timing.)
        Assert.True((await interactive.WaitAsync(TimeSpan.FromSeconds(10))).IsAcquired);
        Assert.False(background.IsCompleted);
        store.Release.SetResult();
        Assert.True((await background.WaitAsync(TimeSpan.FromSeconds(10))).IsAcquired);
    }

    [Fact]
    public async Task When_the_store_is_down_the_process_counts_alone_and_tries_the_store_again_later()
    {
        var clock = new FakeTimeProvider(Start);
        var store = new MemoryStore { Down = true };
        var process = Process(store, clock);

        var first = await process.AcquireAsync(1);
        var second = await process.AcquireAsync(1);
        var callsWhileDown = store.Calls;
        store.Down = false;
        clock.Advance(SharedRequestBudget.StoreRetryInterval);
        var third = await process.AcquireAsync(1);

        Assert.True(first.IsAcquired && second.IsAcquired && third.IsAcquired);
        Assert.Equal(1, callsWhileDown);
        Assert.Equal(process.BlockSize, store.Taken(SharedRequestBudget.WindowOf(clock.GetUtcNow())));
    }

    [Fact]
    public void Windows_are_the_utc_minutes_polar_counts_in()
    {
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 8, 59, 0, TimeSpan.Zero),
            SharedRequestBudget.WindowOf(new DateTimeOffset(2026, 11, 30, 9, 59, 59, TimeSpan.FromHours(1))));
    }
}

using System.Diagnostics;

namespace CreditGrants.Bench;

/// <summary>
/// What a measurement cost: this process's peak working set, peak GC heap (sampled), bytes allocated, collections and
/// CPU time; and, when the emulator's process id is known, the emulator's CPU time and working set after the run.
/// </summary>
public sealed record ResourceFigures(double PeakWorkingSetMb, double WorkingSetBeforeMb, double PeakGcHeapMb, double GcHeapAfterMb,
    double AllocatedMb, int Gen0, int Gen1, int Gen2, double CpuSeconds, double? ServerCpuSeconds, double? ServerWorkingSetMb,
    string? LoadAverage);

/// <summary>
/// Samples the GC heap every 10 ms while a measurement runs. The working-set peak is the kernel's
/// high-water mark for the whole process (runtime, JIT and HTTP stack included), which is what a host pays for.
/// </summary>
public sealed class ResourceWatch : IAsyncDisposable
{
    private const double Mb = 1024 * 1024;

    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _sampler;
    private readonly long _allocatedBefore;
    private readonly int _gen0, _gen1, _gen2;
    private readonly double _workingSetBefore;
    private readonly TimeSpan _cpuBefore;
    private readonly Process? _server;
    private readonly TimeSpan _serverCpuBefore;
    private long _peakHeap;

    private ResourceWatch(int? serverProcessId)
    {
        using var process = Process.GetCurrentProcess();
        _workingSetBefore = process.WorkingSet64 / Mb;
        _cpuBefore = process.TotalProcessorTime;
        _allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        (_gen0, _gen1, _gen2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        if (serverProcessId is { } id)
        {
            _server = Process.GetProcessById(id);
            _serverCpuBefore = _server.TotalProcessorTime;
        }

        _sampler = StartSampler();
    }

    /// <param name="serverProcessId">The emulator's process, whose CPU time the run is also charged; null when unknown.</param>
    public static ResourceWatch Start(int? serverProcessId) => new(serverProcessId);

    /// <summary>Runs <paramref name="work"/> under a watch: its result, its wall-clock seconds and the memory and CPU figures.</summary>
    public static async Task<(T Result, double Seconds, ResourceFigures Memory)> MeasureAsync<T>(int? serverProcessId, Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var watch = Start(serverProcessId);
        await using (watch.ConfigureAwait(false))
        {
            var clock = Stopwatch.StartNew();
            var result = await work().ConfigureAwait(false);
            var seconds = clock.Elapsed.TotalSeconds;
            return (result, seconds, watch.Stop());
        }
    }

    public ResourceFigures Stop()
    {
        _stop.Cancel();
        Sample();
        using var process = Process.GetCurrentProcess();
        _server?.Refresh();
        return new ResourceFigures(
            process.PeakWorkingSet64 / Mb,
            _workingSetBefore,
            Interlocked.Read(ref _peakHeap) / Mb,
            GC.GetGCMemoryInfo().HeapSizeBytes / Mb,
            (GC.GetTotalAllocatedBytes(precise: true) - _allocatedBefore) / Mb,
            GC.CollectionCount(0) - _gen0,
            GC.CollectionCount(1) - _gen1,
            GC.CollectionCount(2) - _gen2,
            (process.TotalProcessorTime - _cpuBefore).TotalSeconds,
            _server is null ? null : (_server.TotalProcessorTime - _serverCpuBefore).TotalSeconds,
            _server is null ? null : _server.WorkingSet64 / Mb,
            LoadAverage());
    }

    /// <summary>The machine's 1-minute load average when the run ended: other work on the same cores skews every figure.</summary>
    private static string? LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : null;

    /// <summary>A thread of its own that sleeps between samples: a pool timer would wake pool threads, which spin and bill CPU to the run.</summary>
    private Thread StartSampler()
    {
        var thread = new Thread(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Sample();
                Thread.Sleep(10);
            }
        })
        {
            IsBackground = true,
            Name = "GC heap sampler",
        };
        thread.Start();
        return thread;
    }

    private void Sample()
    {
        // GetTotalMemory(false) is the heap in use now, garbage not yet collected included: the figure a GC budget sees.
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        long seen;
        while (heap > (seen = Interlocked.Read(ref _peakHeap)) && Interlocked.CompareExchange(ref _peakHeap, heap, seen) != seen)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _sampler.Join();
        _stop.Dispose();
        _server?.Dispose();
    }
}

namespace TimerEngine.Tests;

/// <summary>One invocation of the app's timer function by an engine: which engine, the TimerInfo the host gave, and the
/// error when the function failed.</summary>
internal sealed record Invocation(string Engine, bool IsPastDue, DateTime? Next, string? Error);

/// <summary>Records the invocations of one or more engines, in the order they finished.</summary>
internal sealed class Recorder(TimeSpan patience)
{
    private readonly List<Invocation> _invocations = [];

    public IReadOnlyList<Invocation> Snapshot()
    {
        lock (_invocations)
        {
            return [.. _invocations];
        }
    }

    public void Add(Invocation invocation)
    {
        lock (_invocations)
        {
            _invocations.Add(invocation);
        }
    }

    /// <summary>Records each invocation of an in-process engine after the app's function ran (or failed, rethrown to the host).</summary>
    public CampaignTimerJob.Around For(string engine) => async (timer, run) =>
    {
        string? error = null;
        try
        {
            await run();
        }
        catch (Exception ex)
        {
            error = ex.Message;
            throw;
        }
        finally
        {
            Add(new Invocation(engine, timer.IsPastDue, timer.ScheduleStatus?.Next, error));
        }
    };

    /// <summary>Waits (at most the patience given) until the invocations so far meet <paramref name="condition"/>.</summary>
    /// <exception cref="OperationCanceledException">They did not in time.</exception>
    public async Task<IReadOnlyList<Invocation>> WaitForAsync(Func<IReadOnlyList<Invocation>, bool> condition)
    {
        using var timeout = new CancellationTokenSource(patience);
        while (!condition(Snapshot()))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), timeout.Token);
        }

        return Snapshot();
    }
}

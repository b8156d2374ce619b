using Microsoft.Extensions.Logging;

namespace PolarEmulator.Store;

/// <summary>
/// Saves the store to its data file after changes, at most about once a second (so a million-event ingest is not
/// slowed by a million writes), and once more on dispose.
/// </summary>
internal sealed partial class StatePersister(string path, TimeProvider time, ILogger<StatePersister> logger) : IAsyncDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Func<StateSnapshot>? _snapshot;
    private int _dirty;
    private int _scheduled;

    public string Path { get; } = path;

    /// <summary>Where the state comes from; set once the store exists.</summary>
    public void Attach(Func<StateSnapshot> snapshot) => _snapshot = snapshot;

    /// <summary>Notes a change and makes sure a save follows within about a second.</summary>
    public void MarkChanged()
    {
        Interlocked.Exchange(ref _dirty, 1);
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
        {
            _ = SaveLaterAsync();
        }
    }

    /// <summary>Saves now if anything changed since the last save.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Interlocked.Exchange(ref _dirty, 0) == 1 && _snapshot is { } snapshot)
            {
                try
                {
                    await StateFile.SaveAsync(snapshot(), Path, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    // Not saved: the next flush (at the latest on dispose) must try again.
                    Interlocked.Exchange(ref _dirty, 1);
                    throw;
                }
            }
        }
        finally
        {
            _writing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
        _writing.Dispose();
    }

    private async Task SaveLaterAsync()
    {
        try
        {
            await Task.Delay(Debounce, time, _stopping.Token).ConfigureAwait(false);
            Interlocked.Exchange(ref _scheduled, 0);
            await FlushAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Disposal flushes whatever is left.
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            Interlocked.Exchange(ref _scheduled, 0);
            LogSaveFailed(logger, exception, Path);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not save the emulator state to {Path}")]
    private static partial void LogSaveFailed(ILogger logger, Exception exception, string path);
}

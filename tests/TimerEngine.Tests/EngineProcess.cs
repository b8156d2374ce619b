using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace TimerEngine.Tests;

/// <summary>
/// One app instance on the timer engine in an OS process of its own (<see cref="Program"/>): the app's settings go in its
/// environment, and each invocation it reports is added to a <see cref="Recorder"/> under the instance's name.
/// </summary>
internal sealed class EngineProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _errors = new();

    private EngineProcess(Process process) => _process = process;

    /// <summary>Starts the process and returns once its engine has started (holding the lock or polling for it).</summary>
    /// <exception cref="InvalidOperationException">The process ended before its engine started; the message has its stderr.</exception>
    public static async Task<EngineProcess> StartAsync(string name, string hostId, IConfiguration settings, TimeSpan recovery,
        Recorder recorder, TimeSpan patience)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var argument in new[] { typeof(Program).Assembly.Location, "engine", hostId, ((int)recovery.TotalSeconds).ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in settings.AsEnumerable().Where(pair => pair.Value is not null))
        {
            info.Environment[Program.SettingsPrefix + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var engine = new EngineProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            switch (e.Data?.Split(' '))
            {
                case ["started"]:
                    started.TrySetResult();
                    break;
                case ["invocation", var pastDue, var next, var outcome]:
                    recorder.Add(new Invocation(name, bool.Parse(pastDue),
                        next.Length == 0 ? null : DateTime.Parse(next, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                        outcome == "ok" ? null : outcome));
                    break;
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (engine._errors)
            {
                engine._errors.AppendLine(e.Data);
            }
        };
        process.Exited += (_, _) => started.TrySetException(new InvalidOperationException($"Engine process '{name}' ended before it started: {engine.Errors}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await started.Task.WaitAsync(patience);
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }

        return engine;
    }

    private string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    /// <summary>Stops the instance's host as a shutting-down instance does (the lock is released) and waits for the process to end.</summary>
    public async Task StopAsync(TimeSpan patience)
    {
        if (!_process.HasExited)
        {
            await _process.StandardInput.WriteLineAsync("stop");
            await _process.WaitForExitAsync().WaitAsync(patience);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

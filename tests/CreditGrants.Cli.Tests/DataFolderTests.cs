using System.Diagnostics;
using System.Text.Json;

namespace CreditGrants.Cli.Tests;

/// <summary>Where the embedded emulator's state lives, and that runs sharing it take turns instead of losing grants.</summary>
public sealed class DataFolderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("credits-data-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string DataDir => Path.Combine(_folder, "data");

    [Fact]
    public async Task Concurrent_runs_on_one_data_folder_keep_every_customer_and_balance()
    {
        // Separate processes, as when an operator starts several credits at once: each loads and saves the state file.
        var program = Path.Combine(AppContext.BaseDirectory, "credits.dll");
        var runs = Enumerable.Range(1, 5).Select(i => StartCredits(program,
            "grant", "--customer", $"user-{i}", "--email", $"user{i}@lovelace.dev", "--units", $"{10 * i}", "--grant-id", $"parallel-{i}",
            "--json", "--data-dir", DataDir)).ToArray();

        var results = await Task.WhenAll(runs);

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Error));
        for (var i = 1; i <= 5; i++)
        {
            var balance = await CliRun.RunAsync(new Dictionary<string, string?>(), "balance", "--customer", $"user-{i}", "--json", "--data-dir", DataDir);
            Assert.True(balance.ExitCode == 0, balance.Error);
            Assert.Equal(10m * i, JsonDocument.Parse(balance.Out).RootElement.GetProperty("balance").GetDecimal());
        }
    }

    [Fact]
    public async Task A_run_waits_for_a_data_folder_in_use_and_says_so_on_stderr()
    {
        Directory.CreateDirectory(DataDir);
        var held = new FileStream(Path.Combine(DataDir, DataFolder.LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        using var error = new SignallingWriter("waiting for it to finish");
        using var output = new StringWriter();

        var run = new CreditsCli(output, error, _ => null)
            .RunAsync(["grant", "--customer", "user-1", "--units", "5", "--grant-id", "g-1", "--data-dir", DataDir]);
        await error.Said.WaitAsync(TimeSpan.FromMinutes(1));
        var finishedWhileHeld = run.IsCompleted;
        await held.DisposeAsync();
        var code = await run;

        Assert.False(finishedWhileHeld);
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains($"another credits run is using {DataDir}", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Granted 5 units", output.ToString(), StringComparison.Ordinal);
    }

    [BashTheory]
    [InlineData("INT", ExitCodes.Interrupted)]
    [InlineData("TERM", ExitCodes.Terminated)]
    public async Task A_signal_stops_a_run_cleanly_with_the_shell_exit_code(string signal, int expected)
    {
        // The run is signalled while it waits for the data folder, so the signal always lands mid-run.
        Directory.CreateDirectory(DataDir);
        await using var held = new FileStream(Path.Combine(DataDir, DataFolder.LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "credits.dll"), "balance", "--customer", "u", "--data-dir", DataDir })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove(PolarConnection.ServerVariable);
        start.Environment.Remove(PolarConnection.TokenVariable);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var waiting = await process.StandardError.ReadLineAsync();
        await SendAsync(signal, process.Id);
        if (signal == "INT" && IgnoredHere(2))
        {
            // This test runs where SIGINT is ignored (a background job of a non-interactive shell), and a program inherits that,
            // as a shell's own commands do: the run keeps waiting, and TERM stops it the same clean way.
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.False(process.HasExited);
            await SendAsync("TERM", process.Id);
            expected = ExitCodes.Terminated;
        }

        var rest = process.StandardError.ReadToEndAsync();
        using (var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                Assert.Fail($"credits did not stop within a minute of SIG{signal}.");
            }
        }

        Assert.Contains("waiting for it to finish", waiting, StringComparison.Ordinal);
        Assert.Equal(expected, process.ExitCode);
        Assert.Equal("credits: stopped.", (await rest).Trim());
        Assert.Empty(await output);
    }

    private static async Task SendAsync(string signal, int processId)
    {
        using var kill = Process.Start("kill", ["-" + signal, processId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>Whether this process ignores a signal (its bit in <c>SigIgn</c> of /proc/self/status); false where there is no /proc.</summary>
    private static bool IgnoredHere(int signal)
    {
        var line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) : null;
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << (signal - 1))) != 0;
    }

    [Fact]
    public async Task A_new_data_folder_is_announced_as_new_empty_state_and_later_runs_say_nothing_of_it_unless_verbose()
    {
        var first = await CliRun.RunAsync(new Dictionary<string, string?>(), "balance", "--customer", "user-1", "--data-dir", DataDir);
        var second = await CliRun.RunAsync(new Dictionary<string, string?>(), "balance", "--customer", "user-1", "--data-dir", DataDir);
        var verbose = await CliRun.RunAsync(new Dictionary<string, string?>(), "balance", "--customer", "user-1", "--data-dir", DataDir, "--verbose");

        Assert.Contains($"with new, empty state in {DataDir} (later runs use it when given the same --data-dir", first.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("embedded Polar emulator", second.Error, StringComparison.Ordinal);
        Assert.Contains($"(state in {DataDir})", verbose.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_data_dir_the_state_is_one_per_user_under_xdg_data_home()
    {
        var environment = new Dictionary<string, string?> { ["XDG_DATA_HOME"] = _folder };

        var run = await CliRun.RunAsync(environment, "grant", "--customer", "user-1", "--units", "5", "--grant-id", "g-1");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.True(File.Exists(Path.Combine(_folder, "credits", PolarConnection.EmulatorStateFile)));
    }

    [Fact]
    public void The_data_folder_is_the_option_else_the_variable_else_one_per_user_whatever_the_current_folder()
    {
        var environment = new Dictionary<string, string?> { ["XDG_DATA_HOME"] = "/home/ada/.data", [DataFolder.Variable] = "/srv/credits" };
        Func<string, string?> perUserOnly = name => name == "XDG_DATA_HOME" ? "/home/ada/.data" : null;

        Assert.Equal(Path.GetFullPath("/tmp/mine"), DataFolder.Resolve("/tmp/mine", environment.GetValueOrDefault));
        Assert.Equal(Path.GetFullPath("/srv/credits"), DataFolder.Resolve(null, environment.GetValueOrDefault));
        Assert.Equal(Path.Combine("/home/ada/.data", "credits"), DataFolder.Resolve(null, perUserOnly));
    }

    [Fact]
    public async Task A_data_dir_that_is_a_file_is_invalid_input_in_one_line()
    {
        var file = Path.Combine(_folder, "not-a-folder");
        await File.WriteAllTextAsync(file, "x");

        var run = await CliRun.RunAsync(new Dictionary<string, string?>(), "balance", "--customer", "u", "--data-dir", file);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"credits: --data-dir '{file}' cannot be used:", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task State_that_cannot_be_read_is_refused_in_one_line_and_left_as_it_is()
    {
        Directory.CreateDirectory(DataDir);
        var state = Path.Combine(DataDir, PolarConnection.EmulatorStateFile);
        await File.WriteAllTextAsync(state, "{not json");

        var run = await CliRun.RunAsync(new Dictionary<string, string?>(), "grant", "--customer", "u", "--units", "1", "--grant-id", "g", "--data-dir", DataDir);

        Assert.Equal(ExitCodes.InvalidInput, run.ExitCode);
        var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"credits: --data-dir '{DataDir}' cannot be used: the embedded emulator's state (polar-emulator.json) cannot be read", line,
            StringComparison.Ordinal);
        Assert.Equal("{not json", await File.ReadAllTextAsync(state));
    }

    [Fact]
    public async Task State_of_an_earlier_version_in_the_current_folder_is_pointed_out()
    {
        var work = Directory.CreateDirectory(Path.Combine(_folder, "work")).FullName;
        Directory.CreateDirectory(Path.Combine(work, ".credits"));
        await File.WriteAllTextAsync(Path.Combine(work, ".credits", PolarConnection.EmulatorStateFile), "{}");
        var program = Path.Combine(AppContext.BaseDirectory, "credits.dll");

        var run = await StartCredits(program, work, new Dictionary<string, string> { ["XDG_DATA_HOME"] = Path.Combine(_folder, "user") },
            "meters", "ensure", "--json");

        Assert.Equal(ExitCodes.Ok, run.ExitCode);
        Assert.Contains($"credits: {Path.Combine(work, ".credits")} holds state an earlier version kept in the current folder; pass --data-dir .credits",
            run.Error, StringComparison.Ordinal);
    }

    private static Task<CliRun> StartCredits(string program, params string[] args) => StartCredits(program, null, null, args);

    private static async Task<CliRun> StartCredits(string program, string? workingDirectory, Dictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        start.ArgumentList.Add(program);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The embedded emulator is what is under test: no Polar from the developer's shell.
        foreach (var name in new[] { PolarConnection.ServerVariable, PolarConnection.TokenVariable, DataFolder.Variable })
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CliRun(process.ExitCode, await output, await error);
    }

    /// <summary>A captured stream that tells when a given text has been written to it.</summary>
    private sealed class SignallingWriter(string text) : StringWriter
    {
        private readonly TaskCompletionSource _said = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Said => _said.Task;

        public override async Task WriteLineAsync(string? value)
        {
            await base.WriteLineAsync(value);
            if (value?.Contains(text, StringComparison.Ordinal) == true)
            {
                _said.TrySetResult();
            }
        }
    }
}

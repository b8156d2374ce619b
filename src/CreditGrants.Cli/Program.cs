using System.Collections;
using System.Runtime.InteropServices;
using CreditGrants.Cli;

CreditGrants.CultureDefaults.UseInvariant();

// Settings such as Grants__DefaultMeter or Polar__RequestsPerMinute come from the environment, as in the Functions app.
var configuration = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
{
    var key = (string)variable.Key;
    if (key.Contains("__", StringComparison.Ordinal))
    {
        configuration[key.Replace("__", ":", StringComparison.Ordinal)] = (string?)variable.Value;
    }
}

using var cancel = new CancellationTokenSource();
// The first Ctrl+C stops the command cleanly (exit code 130, state saved, results file complete); a second one ends the process at once.
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cancel.IsCancellationRequested;
    cancel.Cancel();
};

// SIGTERM (kill, docker stop) stops it the same clean way, and exits 143 as shells count it.
var terminated = false;
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    terminated = true;
    cancel.Cancel();
});

var code = await new CreditsCli(Console.Out, Console.Error, Environment.GetEnvironmentVariable, configuration).RunAsync(args, cancel.Token);
return terminated && code == ExitCodes.Interrupted ? ExitCodes.Terminated : code;

using System.Collections;
using CreditGrants.Cli;

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
return await new CreditsCli(Console.Out, Console.Error, Environment.GetEnvironmentVariable, configuration).RunAsync(args, cancel.Token);

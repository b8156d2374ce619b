using System.CommandLine;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    private Command BulkRunCommand()
    {
        var command = new Command("run", "Process a CSV file locally (not yet available)");
        command.SetAction(_ => { _error.WriteLine("credits: 'bulk run' is not available yet."); return ExitCodes.Failed; });
        return command;
    }
}

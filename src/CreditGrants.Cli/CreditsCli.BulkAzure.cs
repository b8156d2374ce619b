using System.CommandLine;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    private Command BulkSubmitCommand() => NotYet("submit");

    private Command BulkStatusCommand() => NotYet("status");

    private Command BulkRetryCommand() => NotYet("retry");

    private Command NotYet(string name)
    {
        var command = new Command(name, "(not yet available)");
        command.SetAction(_ => { _error.WriteLine($"credits: 'bulk {name}' is not available yet."); return ExitCodes.Failed; });
        return command;
    }
}

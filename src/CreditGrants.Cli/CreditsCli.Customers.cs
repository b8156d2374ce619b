using System.CommandLine;
using CreditGrants.Customers;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    private Command CustomersCommand()
    {
        var sync = new Command("sync", "List every customer of the organization into this machine's customer directory (1 Polar request per 100 " +
            "customers), so that later grants to them cost no customer request and rows to ids no customer holds are told apart. A stopped " +
            "sync continues from its last page the next time (docs/customer-directory.md)");
        AddPolarOptions(sync);
        sync.SetAction((parse, ct) => RunAsync(parse, async services =>
        {
            var directory = services.GetRequiredService<CustomerDirectory>();
            var before = await directory.SweepStateAsync(ct).ConfigureAwait(false);
            var resumedAt = before is { ResumeFromPage: > 1, ResumeStartedAt: not null } ? before.ResumeFromPage : null;
            if (resumedAt is { } page && !parse.GetValue(_json))
            {
                await _error.WriteLineAsync($"Continuing the sweep stopped at page {page:N0} (started {before.ResumeStartedAt!.Value.UtcDateTime:yyyy-MM-dd HH:mm} UTC).")
                    .ConfigureAwait(false);
            }

            var swept = !parse.GetValue(_json) && !parse.GetValue(_verbose) && IsTerminal(_error)
                ? await SweepWithProgressBarAsync(directory, ct).ConfigureAwait(false)
                : await SweepWithProgressLinesAsync(directory, ct).ConfigureAwait(false);
            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(new CustomersSynced(swept.Customers, swept.Requests, swept.PagesRead, swept.Pages, resumedAt, swept.Complete),
                    CliJsonContext.Default.CustomersSynced).ConfigureAwait(false);
            }
            else
            {
                await _out.WriteLineAsync($"{swept.Customers:N0} customer{(swept.Customers == 1 ? "" : "s")} recorded in {swept.Requests:N0} Polar " +
                    $"request{(swept.Requests == 1 ? "" : "s")}; the directory now holds the whole organization ({swept.Pages:N0} " +
                    $"page{(swept.Pages == 1 ? "" : "s")} of 100).").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));
        return new Command("customers", "The customer directory: what credits knows of the organization's customers") { sync };
    }

    private async Task<CustomerSweep> SweepWithProgressLinesAsync(CustomerDirectory directory, CancellationToken cancellationToken)
    {
        var printedAt = TimeProvider.System.GetTimestamp();
        return await directory.SweepAsync(null, new SynchronousProgress<CustomerSweepProgress>(p =>
        {
            if (TimeProvider.System.GetElapsedTime(printedAt) < TimeSpan.FromSeconds(2) && p.PagesRead < p.Pages)
            {
                return;
            }

            printedAt = TimeProvider.System.GetTimestamp();
            _error.WriteLine($"{p.PagesRead:N0} / {p.Pages:N0} pages ({p.PagesRead * 100 / Math.Max(1, p.Pages)}%)");
        }), cancellationToken).ConfigureAwait(false);
    }

    private async Task<CustomerSweep> SweepWithProgressBarAsync(CustomerDirectory directory, CancellationToken cancellationToken)
    {
        var progress = new Progress(BulkRunReport.Console(_error, terminal: true))
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn());
        return await progress.StartAsync(async context =>
        {
            var task = context.AddTask("customers: counting", autoStart: true, maxValue: 1);
            task.IsIndeterminate = true;
            try
            {
                var swept = await directory.SweepAsync(null, new SynchronousProgress<CustomerSweepProgress>(p =>
                {
                    task.IsIndeterminate = false;
                    task.MaxValue = Math.Max(1, p.Pages);
                    task.Value = p.PagesRead;
                    task.Description = $"customers: {p.PagesRead:N0} / {p.Pages:N0} pages";
                }), cancellationToken).ConfigureAwait(false);
                task.StopTask();
                return swept;
            }
            catch
            {
                progress.AutoClear = true;
                throw;
            }
        }).ConfigureAwait(false);
    }
}

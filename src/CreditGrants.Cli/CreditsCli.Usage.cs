using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using CreditGrants.Grants;
using CreditGrants.Identity;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CreditGrants.Cli;

public sealed partial class CreditsCli
{
    /// <summary>
    /// <c>credits usage</c>: records a usage event for a customer, as the SaaS app does when the customer uses what it meters
    /// (the meter's event name, <c>+units</c> under its property). For trying grants, the ledger and expiry on the embedded
    /// emulator or Polar's sandbox; refused on production, where usage comes from the app itself.
    /// </summary>
    private Command UsageCommand()
    {
        var customer = new Option<string>("--customer") { Description = "The customer's external id", Required = true };
        var units = new Option<string>("--units") { Description = "Units used, a number > 0 with at most 6 decimals", Required = true };
        var meter = new Option<string?>("--meter") { Description = "The meter (default: Grants:DefaultMeter, 'API Calls'); the event takes its name and property" };
        var eventId = new Option<string?>("--event-id")
        {
            Description = "The usage event's id (the same id is recorded once; default: a new id each run)",
        };
        var command = new Command("usage", "Record usage for a customer as your app would (for trying things on the embedded emulator or "
                                           + "Polar's sandbox; refused on production, where usage comes from your app)")
        {
            customer, units, meter, eventId,
        };
        AddPolarOptions(command);
        command.SetAction(async (parse, ct) =>
        {
            // Input is checked before Polar (or the embedded emulator) is reached.
            var problems = new List<string>();
            var externalId = parse.GetValue(customer)!;
            if (Identifier.Check(externalId) is [var customerProblem, ..])
            {
                problems.Add($"--customer '{Display.Shorten(externalId)}' {customerProblem.Message}.");
            }

            var used = ParseUsageUnits(parse.GetValue(units)!, problems);
            var id = parse.GetValue(eventId);
            if (id is not null && Identifier.Check(id) is [var idProblem, ..])
            {
                problems.Add($"--event-id '{Display.Shorten(id)}' {idProblem.Message}.");
            }

            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await _error.WriteLineAsync($"credits: {problem}").ConfigureAwait(false);
                }

                return ExitCodes.InvalidInput;
            }

            return await RunAsync(parse, services => RecordUsageAsync(services, externalId, used, parse.GetValue(meter), id, parse, ct), ct)
                .ConfigureAwait(false);
        });
        return command;
    }

    private async Task<int> RecordUsageAsync(IServiceProvider services, string externalId, decimal units, string? meterOption, string? eventId,
        ParseResult parse, CancellationToken ct)
    {
        if (services.GetRequiredService<IOptions<PolarClientOptions>>().Value.GetBaseAddress() == PolarClientOptions.ProductionUrl)
        {
            throw new CliInputException("usage is refused on production: there, usage events come from your app. "
                                        + "Use the embedded emulator (no POLAR_SERVER, no token) or --polar-server sandbox.");
        }

        var meterName = meterOption ?? services.GetRequiredService<IOptions<GrantOptions>>().Value.DefaultMeter;
        var gateway = services.GetRequiredService<IPolarGateway>();
        var target = await gateway.GetGrantTargetAsync(meterName, ct).ConfigureAwait(false);
        var id = eventId ?? $"usage_{Guid.NewGuid():N}";
        var metadata = new Dictionary<string, JsonElement>(StringComparer.Ordinal) { [target.Property] = PolarMetadata.Number(units) };
        var report = await gateway.IngestAsync([new PolarEvent(target.EventName, null, externalId, id, null, metadata)], ct).ConfigureAwait(false);
        if (report.Outcomes is [{ Status: IngestStatus.Rejected } rejected])
        {
            throw new CliInputException($"Polar refused the usage event: {rejected.Reason}");
        }

        var recorded = new UsageRecorded(externalId, target.Meter.Name, units, id, report.Inserted == 1);
        if (parse.GetValue(_json))
        {
            await WriteJsonAsync(recorded, UsageJsonContext.Default.UsageRecorded).ConfigureAwait(false);
        }
        else
        {
            await _out.WriteLineAsync(recorded.Recorded
                ? $"Recorded {Number(units)} units of usage by '{externalId}' on meter '{recorded.Meter}' (event {id}, named '{target.EventName}'). "
                  + "The balance shows it once Polar's event store has it."
                : $"Usage event {id} was recorded before; nothing changed.").ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary>Usage units: a number greater than 0 with at most 6 decimals ('.' for decimals); problems name the value.</summary>
    private static decimal ParseUsageUnits(string value, List<string> problems)
    {
        if (!decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var units) || units <= 0)
        {
            problems.Add($"--units '{Display.Shorten(value)}': must be a number greater than 0, with a '.' for decimals.");
        }
        else if (units != Math.Round(units, GrantValidator.MaxDecimalPlaces))
        {
            problems.Add($"--units '{Display.Shorten(value)}': has more than {GrantValidator.MaxDecimalPlaces} decimal places.");
        }

        return units;
    }
}

/// <summary>What <c>credits usage --json</c> prints: the customer, the meter, the units, the event id, and whether it was new.</summary>
internal sealed record UsageRecorded(string Customer, string Meter, decimal Units, string EventId, bool Recorded);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(UsageRecorded))]
internal sealed partial class UsageJsonContext : JsonSerializerContext;

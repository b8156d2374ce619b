using System.CommandLine;
using System.Globalization;
using CreditGrants.Grants;
using CreditGrants.Lifecycle;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CreditGrants.Cli;

/// <summary><c>credits grants list|revoke</c>: a customer's ledger, and taking a grant back.</summary>
public sealed partial class CreditsCli
{
    private Command GrantsCommand()
    {
        var customer = new Option<string>("--customer") { Description = "The customer's external id", Required = true };
        var meter = new Option<string?>("--meter") { Description = "The meter (default: Grants:DefaultMeter, 'API Calls')" };
        var list = new Command("list", "List a customer's grants on a meter: remaining units and status of each, revocations and expiries " +
            "(2 + 1 per 100 entries Polar requests, plus the usage events of a meter reset's hour before it)") { customer, meter };
        AddPolarOptions(list);
        list.SetAction((parse, ct) => RunAsync(parse, async services =>
        {
            var meterName = parse.GetValue(meter) ?? services.GetRequiredService<IOptions<GrantOptions>>().Value.DefaultMeter;
            var ledger = await services.GetRequiredService<LedgerReader>().ReadAsync(parse.GetValue(customer)!, meterName, ct).ConfigureAwait(false);
            var page = LedgerJson.Page(ledger, [], null, int.MaxValue);
            if (parse.GetValue(_json))
            {
                await WriteJsonAsync(page with { Notes = [.. page.Notes, PendingNote] }, LedgerJsonContext.Default.CustomerLedgerJson).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            await _out.WriteLineAsync($"Customer  {ledger.ExternalCustomerId}{(ledger.CustomerId is { } id ? $" ({id})" : "")}").ConfigureAwait(false);
            await _out.WriteLineAsync($"Meter     {ledger.Meter}").ConfigureAwait(false);
            await _out.WriteLineAsync($"Balance   {(ledger.Read.Balance is { } balance ? Number(balance) : "none yet")} as Polar showed at {ledger.Read.At:u}" +
                $" (usage since the last reset {Number(ledger.Read.Usage)}; {ledger.Read.PolarRequests} Polar requests)").ConfigureAwait(false);
            if (ledger.Grants.Count == 0)
            {
                await _out.WriteLineAsync("No grants.").ConfigureAwait(false);
            }

            foreach (var grant in ledger.Grants)
            {
                var takenBack = (grant.TakenBack is { } back ? $", {Number(back)} taken back" : "")
                    + (grant.TakenBack is null && grant.Revoked > 0 ? $", {Number(grant.Revoked)} taken by another grant's revocation" : "")
                    + (grant.UnspentNotTakenBack > 0 ? $", {Number(grant.UnspentNotTakenBack)} unspent not taken back yet" : "");
                var expires = grant.ExpiresAt is { } at ? $", expires {at:u}" : "";
                await _out.WriteLineAsync($"  {grant.GrantId,-28} {LedgerJson.StatusName(grant.Status),-14} {Number(grant.Remaining),10} of {Number(grant.Units)} left" +
                    $"  granted {grant.GrantedAt:u}{expires}{takenBack}  {grant.Source}{(grant.Reason is null ? "" : $": {grant.Reason}")}").ConfigureAwait(false);
            }

            foreach (var note in page.Notes.Append(PendingNote))
            {
                await _out.WriteLineAsync(note).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }, ct));

        var grantId = new Argument<string>("grantId") { Description = "The id of the grant to take back" };
        var units = new Option<string?>("--units") { Description = "Units to take back (default: what the grant has unspent)" };
        var reason = new Option<string?>("--reason") { Description = "Why, in a few words (kept on the revocation's event)" };
        var negative = new Option<bool>("--allow-negative-balance") { Description = "Allow --units above what is unspent (the balance goes negative)" };
        var revoke = new Command("revoke", "Take back what a grant has unspent, as Polar shows it now (once: a second revocation changes nothing)")
        {
            grantId, units, reason, negative,
        };
        AddPolarOptions(revoke);
        revoke.SetAction((parse, ct) =>
        {
            decimal? asked = null;
            if (parse.GetValue(units) is { } text)
            {
                if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
                    || value <= 0 || value != Math.Round(value, GrantValidator.MaxDecimalPlaces))
                {
                    return Task.FromResult(Refuse($"--units '{text}': must be a number above 0 with at most {GrantValidator.MaxDecimalPlaces} decimal places, such as 40 or 2.5 (leave it out to take back what is unspent)."));
                }

                asked = value;
            }

            return RunAsync(parse, async services =>
            {
                var outcome = await services.GetRequiredService<GrantRevocation>().RevokeAsync(
                    new RevokeRequest(parse.GetValue(grantId)!, parse.GetValue(reason), asked, parse.GetValue(negative), "cli"), ct).ConfigureAwait(false);
                var json = RevokeOutcomeJson.From(outcome);
                if (parse.GetValue(_json))
                {
                    await WriteJsonAsync(json, LedgerJsonContext.Default.RevokeOutcomeJson).ConfigureAwait(false);
                    return ExitCodes.Ok;
                }

                var verb = outcome.Status == RevokeStatus.Revoked ? "Revoked" : "Already revoked (nothing changed):";
                await _out.WriteLineAsync($"{verb} grant {outcome.GrantId} of '{outcome.ExternalCustomerId}' on meter '{outcome.Meter}': {Number(outcome.TakenBack)} units " +
                    $"taken back of {Number(outcome.GrantUnits)} ({Number(outcome.Unspent)} were unspent; revocation {outcome.RevocationGrantId}). " +
                    $"Read at {outcome.Read.At:u}: balance {(outcome.Read.Balance is { } b ? Number(b) : "none yet")}.").ConfigureAwait(false);
                foreach (var note in json.Notes)
                {
                    await _out.WriteLineAsync(note).ConfigureAwait(false);
                }

                return ExitCodes.Ok;
            }, ct);
        });
        return new Command("grants", "A customer's grants: list them, take one back, expire those whose expiry has passed") { list, revoke, GrantsExpireCommand() };
    }

    private const string PendingNote =
        "A grant made in the last seconds may not be listed yet: Polar's event store lags, and this command cannot see grants it did not make itself.";

    private int Refuse(string message)
    {
        _error.WriteLine($"credits: {message}");
        return ExitCodes.InvalidInput;
    }
}

using System.Globalization;
using System.CommandLine;
using System.Text.Json.Serialization;
using CreditGrants.Expiry;
using CreditGrants.Grants;
using Microsoft.Extensions.DependencyInjection;

namespace CreditGrants.Cli;

/// <summary><c>credits grants expire --due</c>: the CLI's expiry sweep, over the grants this machine's data folder knows to expire.</summary>
public sealed partial class CreditsCli
{
    private Command GrantsExpireCommand()
    {
        var due = new Option<bool>("--due")
        {
            Description = "Take back the unspent credits of every grant whose expiry has passed (the grants made from this data folder with an expiry)",
        };
        var at = new Option<string?>("--at")
        {
            HelpName = "instant",
            Description = "Expire what was due as of this instant (ISO 8601 with an offset, not in the future; default now)",
        };
        var command = new Command("expire", "Expire grants whose expiry has passed: one expiry event each, taking back what was unspent at the " +
            "expiry's UTC hour (docs/credit-lifecycle.md#expiry)") { due, at };
        AddPolarOptions(command);
        command.SetAction(async (parse, ct) =>
        {
            if (!parse.GetValue(due))
            {
                await _error.WriteLineAsync("credits: grants expire: give --due to expire every grant whose expiry has passed.").ConfigureAwait(false);
                return ExitCodes.InvalidInput;
            }

            DateTimeOffset? asOf = null;
            if (parse.GetValue(at) is { } text)
            {
                if (GrantExpiry.ReadInstant(text) is not { At: { } parsed })
                {
                    await _error.WriteLineAsync($"credits: --at '{Identity.Display.Shorten(text)}': give an ISO 8601 date and time with its offset, such as 2027-01-31T23:10:00Z.")
                        .ConfigureAwait(false);
                    return ExitCodes.InvalidInput;
                }

                if (parsed > Clock.GetUtcNow())
                {
                    await _error.WriteLineAsync($"credits: --at '{text}' is in the future: Polar takes no events dated in the future; give an instant up to now.")
                        .ConfigureAwait(false);
                    return ExitCodes.InvalidInput;
                }

                asOf = parsed;
            }

            return await RunAsync(parse, async services =>
            {
                var result = await services.GetRequiredService<ExpirySweep>().RunAsync(asOf, ct).ConfigureAwait(false);
                if (parse.GetValue(_json))
                {
                    await WriteJsonAsync(ExpirySweepJson.From(result), ExpiryJsonContext.Default.ExpirySweepJson).ConfigureAwait(false);
                }
                else
                {
                    await _out.WriteLineAsync(Describe(result)).ConfigureAwait(false);
                }

                return result.Count(ExpiryStatus.Failed) > 0 ? ExitCodes.RowsRejected : ExitCodes.Ok;
            }, ct).ConfigureAwait(false);
        });
        return command;
    }

    private static string Minutes(TimeSpan span) => span.TotalMinutes == 1 ? "1 minute" : $"{span.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture)} minutes";

    private static string Describe(ExpirySweepResult result)
    {
        var lines = new List<string>
        {
            $"Expiries that took effect by {GrantExpiry.Format(result.DueBy)}: {result.Expiries.Count} (expiries take effect at whole UTC hours, "
            + $"and are taken {Minutes(result.At - result.DueBy)} after, Expiry:Settle, so the hour's last usage events count first)",
        };
        foreach (var expiry in result.Expiries)
        {
            var who = expiry.ExternalCustomerId is { } external ? $"'{external}'" : "a customer by Polar id";
            var what = expiry.Status switch
            {
                ExpiryStatus.Expired => $"expired, {Number(expiry.UnitsTakenBack)} unspent units taken back",
                _ => StatusName(expiry.Status),
            };
            lines.Add($"  {expiry.GrantId} ({who}, {expiry.Meter}, at {GrantExpiry.Format(expiry.TakesEffectAt)}): {what}{(expiry.Note is { } note ? $": {note}" : "")}");
        }

        lines.Add($"Expired {result.Count(ExpiryStatus.Expired)}, {Number(result.UnitsTakenBack)} units taken back; waiting {result.Count(ExpiryStatus.Waiting)}; " +
            $"failed {result.Count(ExpiryStatus.Failed)}; Polar requests {result.PolarRequests}.");
        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>A status as the JSON and the text say it.</summary>
    internal static string StatusName(ExpiryStatus status) => status switch
    {
        ExpiryStatus.Expired => "expired",
        ExpiryStatus.AlreadyExpired => "already expired",
        ExpiryStatus.Revoked => "revoked before its expiry",
        ExpiryStatus.WipedByReset => "wiped by reset before its expiry",
        ExpiryStatus.Rescheduled => "rescheduled",
        ExpiryStatus.Waiting => "waiting",
        ExpiryStatus.NeverGranted => "never granted",
        _ => "failed",
    };
}

/// <summary><c>credits grants expire --due --json</c>.</summary>
internal sealed record ExpirySweepJson(string At, string DueBy, int Due, int Expired, decimal UnitsTakenBack, int Waiting, int Failed, int PolarRequests,
    IReadOnlyList<ExpiryJson> Expiries)
{
    public static ExpirySweepJson From(ExpirySweepResult result) => new(GrantExpiry.Format(result.At), GrantExpiry.Format(result.DueBy), result.Expiries.Count,
        result.Count(ExpiryStatus.Expired), result.UnitsTakenBack, result.Count(ExpiryStatus.Waiting), result.Count(ExpiryStatus.Failed), result.PolarRequests,
        [.. result.Expiries.Select(e => new ExpiryJson(e.GrantId, e.ExternalCustomerId, e.Meter, GrantExpiry.Format(e.TakesEffectAt),
            JsonName(e.Status), e.UnitsTakenBack, e.Note))]);

    /// <summary>A status as the JSON says it, in the ledger's style (<c>wiped_by_reset</c>).</summary>
    private static string JsonName(ExpiryStatus status) => status switch
    {
        ExpiryStatus.AlreadyExpired => "already_expired",
        ExpiryStatus.WipedByReset => "wiped_by_reset",
        ExpiryStatus.NeverGranted => "never_granted",
        _ => status.ToString().ToLowerInvariant(),
    };
}

/// <summary>One due expiry in <see cref="ExpirySweepJson"/>.</summary>
internal sealed record ExpiryJson(string GrantId, string? ExternalCustomerId, string Meter, string TakesEffectAt, string Status, decimal UnitsTakenBack, string? Note);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ExpirySweepJson))]
internal sealed partial class ExpiryJsonContext : JsonSerializerContext;

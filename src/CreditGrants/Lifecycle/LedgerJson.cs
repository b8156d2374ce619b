using System.Text;
using CreditGrants.Grants;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CreditGrants.Lifecycle;

/// <summary>One grant of a ledger as the HTTP API and <c>credits --json</c> print it; <see cref="Status"/> is snake_case.</summary>
public sealed record LedgerGrantJson(
    string GrantId,
    decimal Units,
    decimal Spent,
    decimal Remaining,
    string Status,
    string? Source,
    string? Reason,
    DateTimeOffset GrantedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? ClosedAt,
    decimal? TakenBack,
    string? CompensationGrantId,
    bool PolarCredit)
{
    /// <summary>Made with <c>carryOver</c>; printed only when true.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool CarryOver { get; init; }

    /// <summary>A carry-over re-grant: the grant it carries; printed only on re-grants.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Carries { get; init; }

    /// <summary>
    /// Units revocations took from it while it stayed open (<see cref="LedgerGrant.Revoked"/>: a partial revocation, or what
    /// another grant's revocation took beyond that grant's units); printed only when above 0. Units = spent + remaining + this
    /// for an open grant.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public decimal Revoked { get; init; }

    public static LedgerGrantJson From(LedgerGrant grant)
    {
        ArgumentNullException.ThrowIfNull(grant);
        return new(grant.GrantId, grant.Units, grant.Spent, grant.Remaining, LedgerJson.StatusName(grant.Status), grant.Source, grant.Reason,
            grant.GrantedAt, grant.ExpiresAt, grant.ClosedAt, grant.TakenBack, grant.CompensationGrantId, grant.PolarCredit)
        {
            CarryOver = grant.CarryOver,
            Carries = grant.Carries,
            Revoked = grant.Revoked,
        };
    }
}

/// <summary>A revocation or an expiry as a ledger entry of its own.</summary>
public sealed record LedgerCompensationJson(string GrantId, string Compensates, string Kind, decimal Units, decimal Unspent, DateTimeOffset At,
    string? Source, string? Reason);

/// <summary>What was read from Polar, and when (see <see cref="LedgerRead"/>).</summary>
public sealed record LedgerReadJson(DateTimeOffset At, decimal? Balance, decimal? ConsumedUnits, long? CreditedUnits, decimal Usage,
    decimal BalanceFromEvents, bool BalanceLags, int PolarRequests)
{
    public static LedgerReadJson From(LedgerRead read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return new(read.At, read.Balance, read.ConsumedUnits, read.CreditedUnits, read.Usage, read.BalanceFromEvents, read.BalanceLags, read.PolarRequests);
    }
}

/// <summary>One page of a customer's ledger: grants oldest first, the compensations, what was read, the next page's cursor.</summary>
public sealed record CustomerLedgerJson(
    string ExternalCustomerId,
    Guid? CustomerId,
    string Meter,
    Guid MeterId,
    IReadOnlyList<LedgerGrantJson> Grants,
    IReadOnlyList<LedgerCompensationJson> Compensations,
    LedgerReadJson Read,
    string? NextCursor,
    IReadOnlyList<string> Notes);

/// <summary>A revocation's answer as the HTTP API and <c>credits --json</c> print it.</summary>
public sealed record RevokeOutcomeJson(
    string Status,
    string GrantId,
    string RevocationGrantId,
    string EventId,
    string ExternalCustomerId,
    string Meter,
    decimal GrantUnits,
    decimal Unspent,
    decimal TakenBack,
    bool BalanceGoesNegative,
    DateTimeOffset RevokedAt,
    string? Reason,
    LedgerReadJson Read,
    IReadOnlyList<string> Notes)
{
    /// <summary>The carry-over re-grant the units were taken from (<see cref="RevokeOutcome.CarriedAs"/>); printed only then.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CarriedAs { get; init; }

    public static RevokeOutcomeJson From(RevokeOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var notes = new List<string>();
        if (outcome.CarriedAs is { } regrant)
        {
            notes.Add($"A meter reset wiped grant {outcome.GrantId} and its unspent units were carried over as re-grant {regrant}: {outcome.TakenBack} units were taken back from that re-grant, which had {outcome.Unspent} unspent.");
        }

        if (outcome.BalanceGoesNegative)
        {
            notes.Add($"{outcome.TakenBack - outcome.Unspent} units more than were unspent were taken back: the customer's balance goes negative by them.");
        }

        if (outcome.Read.BalanceLags)
        {
            notes.Add($"Polar's balance ({outcome.Read.Balance ?? 0}) did not show yet what its event store holds ({outcome.Read.BalanceFromEvents}); the revocation went by the event store. Balances catch up in seconds.");
        }

        return new(outcome.Status == RevokeStatus.Revoked ? "revoked" : "already_revoked", outcome.GrantId, outcome.RevocationGrantId, outcome.EventId,
            outcome.ExternalCustomerId, outcome.Meter, outcome.GrantUnits, outcome.Unspent, outcome.TakenBack, outcome.BalanceGoesNegative,
            outcome.RevokedAt, outcome.Reason, LedgerReadJson.From(outcome.Read), notes)
        {
            CarriedAs = outcome.CarriedAs,
        };
    }
}

/// <summary>Builds ledger pages: status names, filters and cursors.</summary>
public static class LedgerJson
{
    /// <summary>The most grants a page holds, and the default.</summary>
    public const int MaxLimit = 100;

    /// <summary>Every status name, as <c>status=</c> takes it.</summary>
    public static IReadOnlyList<string> StatusNames { get; } = [.. Enum.GetValues<LedgerStatus>().Select(StatusName)];

    /// <summary>The snake_case name of a status: <c>pending</c>, <c>active</c>, <c>partly_used</c>, <c>used</c>, <c>revoked</c>, <c>expired</c>, <c>wiped_by_reset</c>.</summary>
    public static string StatusName(LedgerStatus status) => status switch
    {
        LedgerStatus.Pending => "pending",
        LedgerStatus.Active => "active",
        LedgerStatus.PartlyUsed => "partly_used",
        LedgerStatus.Used => "used",
        LedgerStatus.Revoked => "revoked",
        LedgerStatus.Expired => "expired",
        _ => "wiped_by_reset",
    };

    /// <summary>
    /// A page of <paramref name="ledger"/>: grants with one of <paramref name="statuses"/> (all when empty) after
    /// <paramref name="cursor"/> (null: from the first), at most <paramref name="limit"/>. Throws <see cref="FormatException"/>
    /// for a cursor this method did not make.
    /// </summary>
    public static CustomerLedgerJson Page(CustomerLedger ledger, IReadOnlyCollection<LedgerStatus> statuses, string? cursor, int limit)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(statuses);
        (DateTimeOffset At, string GrantId)? after = cursor is null ? null : ReadCursor(cursor);
        var matching = ledger.Grants.Where(g => statuses.Count == 0 || statuses.Contains(g.Status))
            .Where(g => after is not { } a || g.GrantedAt > a.At || (g.GrantedAt == a.At && string.CompareOrdinal(g.GrantId, a.GrantId) > 0))
            .ToList();
        var page = matching.Take(limit).ToList();
        var next = matching.Count > limit ? Cursor(page[^1]) : null;
        var notes = new List<string>();
        var lastReset = ledger.Resets.Where(r => r <= ledger.Read.At).DefaultIfEmpty(DateTimeOffset.MinValue).Max();
        if (ledger.Read.BalanceLags && lastReset != DateTimeOffset.MinValue)
        {
            // Polar's window starts at the reset's ingestion; the ledger reads usage by timestamp.
            notes.Add($"Polar's balance ({ledger.Read.Balance ?? 0}) differs from what the ledger derives ({ledger.Read.BalanceFromEvents}): "
                      + $"the balance lags by seconds, or usage dated before the meter reset at {GrantExpiry.Format(lastReset)} was sent after it "
                      + "(Polar counts an event in the window it was ingested in; the ledger and the carry-over go by its timestamp). "
                      + "Polar's balance is what counts; send usage dated when it is sent.");
        }
        else if (ledger.Read.BalanceLags)
        {
            notes.Add($"Polar's balance ({ledger.Read.Balance ?? 0}) does not show yet what its event store holds ({ledger.Read.BalanceFromEvents}); it catches up in seconds.");
        }
        else if (ledger.Read.Balance is { } balance && balance >= 0
                 && ledger.Grants.Where(g => g.Status != LedgerStatus.Pending).Sum(g => g.Remaining + g.UnspentNotTakenBack) is var held && held != balance)
        {
            // The model's split of Polar's sum over the grants is off: say so rather than show it as settled.
            notes.Add($"The grants' remaining units add up to {held}, Polar's balance is {balance}: which grant holds which units is off by {held - balance} "
                      + "(for example a revocation or an expiry made while a meter reset's carry-over was pending for over an hour: "
                      + "docs/credit-lifecycle.md lists the cases). Polar's balance is what counts.");
        }

        foreach (var due in page.Where(g => g.UnspentNotTakenBack > 0))
        {
            // The model closes the block at its expiry; Polar's balance keeps the units until the expiry event is sent.
            notes.Add($"Grant {due.GrantId} expired at {GrantExpiry.Format(due.ExpiresAt ?? due.ClosedAt ?? ledger.Read.At)} with {due.UnspentNotTakenBack} units unspent: "
                      + "they count in Polar's balance until its expiry event is sent (the app's ExpireGrants timer, or credits grants expire --due, "
                      + "takes expiries a few minutes after their hour, Expiry:Settle).");
        }

        notes.Add("Usage is known per whole UTC hour: usage in the hour of a grant, revocation or reset is counted after it.");
        return new CustomerLedgerJson(ledger.ExternalCustomerId, ledger.CustomerId, ledger.Meter, ledger.MeterId,
            [.. page.Select(LedgerGrantJson.From)],
            [.. ledger.Compensations.Select(c => new LedgerCompensationJson(c.CompensationGrantId, c.Compensates, GrantMetadata.Name(c.Kind), c.Units,
                c.Unspent, c.Timestamp, c.Source, c.Reason))],
            LedgerReadJson.From(ledger.Read), next, notes);
    }

    private static string Cursor(LedgerGrant grant) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{grant.GrantedAt.UtcTicks}|{grant.GrantId}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static (DateTimeOffset At, string GrantId) ReadCursor(string cursor)
    {
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 += new string('=', (4 - (base64.Length % 4)) % 4);
        var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
        var bar = text.IndexOf('|', StringComparison.Ordinal);
        return bar > 0 && long.TryParse(text.AsSpan(0, bar), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
            ? (new DateTimeOffset(ticks, TimeSpan.Zero), text[(bar + 1)..])
            : throw new FormatException("not a ledger cursor");
    }
}

/// <summary>camelCase JSON for ledgers and revocations.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(CustomerLedgerJson))]
[JsonSerializable(typeof(RevokeOutcomeJson))]
public sealed partial class LedgerJsonContext : JsonSerializerContext;

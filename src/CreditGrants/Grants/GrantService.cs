using CreditGrants.Customers;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Grants;

/// <summary>
/// Makes a grant the way Polar's guide does: make sure the customer exists, check that the meter can take it,
/// then ingest one event with the negated units under the meter's summed property. A customer the
/// <see cref="CustomerDirectory"/> knows costs no request, so such a grant is one Polar request (the ingest; the meter is
/// cached); the event then goes by external id, which Polar links to whichever customer holds it.
/// A grant that expires is recorded in the <see cref="Expiry.IExpiryIndex"/> before its event is sent, so that it cannot be sent
/// without the sweep learning of it.
/// </summary>
/// <remarks>A grant made now is kept in <see cref="Lifecycle.RecentGrants"/> when one is given, so a ledger read in the next seconds shows it as pending.</remarks>
public sealed partial class GrantService(IPolarGateway polar, CustomerDirectory directory, TimeProvider time, ILogger<GrantService> logger,
    Lifecycle.RecentGrants? recent = null, Expiry.IExpiryIndex? expiries = null)
{
    public const string GrantIdKey = "grant_id";
    public const string GrantReasonKey = "grant_reason";
    public const string GrantSourceKey = "grant_source";
    public const string GrantMeterKey = "grant_meter";

    public async Task<GrantOutcome> GrantAsync(CreditGrant grant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(grant);
        var target = await polar.GetGrantTargetAsync(grant.Meter, cancellationToken).ConfigureAwait(false);
        var (customer, known, created) = await EnsureCustomerAsync(grant.Customer, cancellationToken).ConfigureAwait(false);

        var grantEvent = BuildEvent(grant, target, customer);
        var verdict = target.Admits(grantEvent, time.GetUtcNow());
        if (!verdict.Matches)
        {
            throw new MeterNotGrantableException(grant.Meter, MeterProblem.FilterRejects,
                $"Meter '{grant.Meter}' would not count this grant: {verdict.Reason}.");
        }

        if (grant.ExpiresAt is not null && expiries is not null)
        {
            await expiries.AddAsync([Expiry.DueExpiry.Of(grant, time.GetUtcNow())], cancellationToken).ConfigureAwait(false);
        }

        var report = await polar.IngestAsync([grantEvent], cancellationToken).ConfigureAwait(false);
        var outcome = report.Outcomes[0];
        if (outcome.Status == IngestStatus.Rejected)
        {
            throw new GrantException(GrantErrorKind.EventRejected, $"Polar refused the grant event: {outcome.Reason}");
        }

        if (outcome.Status == IngestStatus.Duplicate && !grant.GrantId.IsDerived)
        {
            // Polar dedupes on the id alone: read the first use back, or a reused id would pass as "already granted".
            var conflicts = await GrantIdConflicts.FindAsync(polar, [new RepeatedGrant(grant, target, customer)], cancellationToken)
                .ConfigureAwait(false);
            if (conflicts.TryGetValue(grant.GrantId.Value, out var conflict))
            {
                LogConflict(grant.GrantId.Value, grant.Source);
                throw new GrantException(GrantErrorKind.GrantIdConflict, conflict);
            }
        }

        var status = outcome.Status == IngestStatus.Duplicate ? GrantStatus.Duplicate : GrantStatus.Granted;
        if (status == GrantStatus.Granted && (customer?.ExternalId ?? grant.Customer.ExternalId) is { } grantedTo)
        {
            recent?.Add(grant.GrantId.Value, grantedTo, grant.Meter, grant.Units, grant.Source, grant.Reason);
        }

        LogGrant(status, grant.Units, grant.Customer, grant.Meter, grant.GrantId.Value, grant.Source);
        // A customer known from the directory is not named: the grant went by external id to whichever customer holds it now,
        // which is not the one the directory recorded when that customer was deleted since.
        return new GrantOutcome(status, grant.GrantId.Value, customer?.Id, customer?.ExternalId ?? grant.Customer.ExternalId,
            created, customer is not null || known, grant.Units, grant.Meter, grant.GrantId.EventId)
        {
            ExpiresAt = grant.ExpiresAt,
            CarryOver = grant.CarryOver,
        };
    }

    /// <summary>
    /// Whether a grant event with this grant id exists in Polar (one <c>GET /v1/events/</c>): a grant sent again is then a
    /// duplicate or a conflict, never a new grant. Throws <see cref="PolarException"/>.
    /// </summary>
    public async Task<bool> IsUsedAsync(GrantId grantId, CancellationToken cancellationToken = default)
    {
        var lookup = await polar.FindEventsByMetadataAsync(GrantIdKey, [grantId.Value], cancellationToken).ConfigureAwait(false);
        return lookup.Events.GetValueOrDefault(grantId.Value) is { Count: > 0 };
    }

    /// <summary>The grant event: the meter's event name, the customer, the grant's event id, and the negated units.</summary>
    public static PolarEvent BuildEvent(CreditGrant grant, GrantTarget target, Customer? customer)
    {
        ArgumentNullException.ThrowIfNull(grant);
        ArgumentNullException.ThrowIfNull(target);
        var metadata = new Dictionary<string, System.Text.Json.JsonElement>(StringComparer.Ordinal)
        {
            [target.Property] = PolarMetadata.Number(-grant.Units),
            [GrantIdKey] = PolarMetadata.Text(grant.GrantId.Value),
            [GrantSourceKey] = PolarMetadata.Text(grant.Source),
            [GrantMeterKey] = PolarMetadata.Text(grant.Meter),
        };
        if (grant.Reason is not null)
        {
            metadata[GrantReasonKey] = PolarMetadata.Text(grant.Reason);
        }

        if (grant.ExpiresAt is { } expiresAt)
        {
            metadata[Lifecycle.GrantMetadata.ExpiresAt] = PolarMetadata.Text(GrantExpiry.Format(expiresAt));
        }

        if (grant.CarryOver)
        {
            metadata[Lifecycle.GrantMetadata.CarryOver] = PolarMetadata.Boolean(true);
        }

        if (grant.Carries is { } carried)
        {
            metadata[Lifecycle.GrantMetadata.Carries] = PolarMetadata.Text(carried);
        }

        // A known customer is addressed by Polar's id; otherwise by the external id, which Polar links once such a customer exists.
        var customerId = customer?.Id ?? grant.Customer.CustomerId;
        return new PolarEvent(target.EventName, customerId, customerId is null ? grant.Customer.ExternalId : null,
            grant.GrantId.EventId, grant.Timestamp, metadata);
    }

    /// <summary>
    /// The customer a grant goes to: by Polar id (read, so an unknown id is named), or by external id: known to the directory
    /// (no request, no customer returned: the event goes by external id), read, or created from the email. A customer that
    /// neither exists nor can be created is (null, false, false): the event then goes by external id and waits for it.
    /// </summary>
    private async Task<(Customer? Customer, bool Known, bool Created)> EnsureCustomerAsync(CustomerRef reference, CancellationToken cancellationToken)
    {
        if (reference.CustomerId is { } customerId)
        {
            try
            {
                return (await polar.GetCustomerAsync(customerId, cancellationToken).ConfigureAwait(false), false, false);
            }
            catch (PolarException ex) when (ex.Kind == PolarErrorKind.NotFound)
            {
                throw new GrantException(GrantErrorKind.CustomerNotFound, $"No Polar customer has the id {customerId}.");
            }
        }

        var externalId = reference.ExternalId!;
        var known = await directory.KnownAsync([externalId], cancellationToken).ConfigureAwait(false);
        if (known.ContainsKey(externalId))
        {
            return (null, true, false);
        }

        if (reference.MustExistBecause is { } why)
        {
            // A lookalike-prone id: only a customer that holds exactly this string may have it (a read; never a create).
            return await directory.CheckAsync(externalId, cancellationToken).ConfigureAwait(false) is { } holder
                ? (holder, false, false)
                : throw new GrantException(GrantErrorKind.CustomerNotFound,
                    $"customer.externalId '{Identity.Display.Shorten(externalId)}' {why}, and no Polar customer does; nothing was granted.");
        }

        if (reference.Email is null)
        {
            // Nothing to create a customer from: read it (one request), or the event waits for it by external id.
            return (await directory.CheckAsync(externalId, cancellationToken).ConfigureAwait(false), false, false);
        }

        // Create first, as bulk rows do: one request whether the customer is new (201) or exists (Polar's "external ID already
        // exists"); a read first would cost a second request for every new customer, the usual case of a grant with an email.
        try
        {
            var created = await polar.CreateCustomerAsync(new CustomerCreate(reference.Email, reference.Name, externalId), cancellationToken)
                .ConfigureAwait(false);
            LogCustomerCreated(created.Id, externalId);
            await directory.RememberAsync([created], cancellationToken).ConfigureAwait(false);
            return (created, false, true);
        }
        catch (PolarException ex) when (ex.Kind == PolarErrorKind.Conflict)
        {
            if (ex.Errors.Any(e => e.Location is [.., "external_id"]))
            {
                // A customer holds the external id (made before, or by a create that raced this one): the grant goes to it.
                await directory.RememberExistsAsync(externalId, cancellationToken).ConfigureAwait(false);
                return (null, true, false);
            }

            var owner = await polar.FindCustomerByEmailAsync(reference.Email, cancellationToken).ConfigureAwait(false);
            throw new GrantException(GrantErrorKind.CustomerConflict, owner is null
                ? $"Polar refused to create a customer with external id '{Identity.Display.Escape(externalId)}': {ex.Message}"
                : EmailConflict(reference.Email, owner, externalId));
        }
    }

    /// <summary>Why a customer cannot be created: its email is another customer's. Names both.</summary>
    public static string EmailConflict(string email, Customer owner, string externalId)
    {
        ArgumentNullException.ThrowIfNull(owner);
        return $"The email '{Identity.Display.Escape(email)}' belongs to customer {owner.Id} (external id '{Identity.Display.Escape(owner.ExternalId ?? "none")}'), not to external id '{Identity.Display.Escape(externalId)}'.";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Grant {Status}: {Units} units to {Customer} on meter {Meter} (grant {GrantId}, source {Source})")]
    private partial void LogGrant(GrantStatus status, decimal units, CustomerRef customer, string meter, string grantId, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grant {GrantId} (source {Source}) refused: its id was first used for another grant")]
    private partial void LogConflict(string grantId, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created customer {CustomerId} for external id {ExternalId}")]
    private partial void LogCustomerCreated(Guid customerId, string externalId);
}

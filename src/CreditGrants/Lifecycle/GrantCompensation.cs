using System.Globalization;
using System.Text.Json;
using CreditGrants.Grants;
using CreditGrants.Polar;
using CreditGrants.Polar.Events;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using Microsoft.Extensions.Logging;

namespace CreditGrants.Lifecycle;

/// <summary>
/// One compensation to ingest: take back <see cref="Units"/> (≥ 0) of grant <see cref="GrantId"/> on <see cref="Meter"/>
/// from <see cref="Customer"/> (addressed as the grant's event was), as of <see cref="Timestamp"/> (not in the future; an
/// expiry's effective hour, or the moment a revocation read Polar). <see cref="Unspent"/> is what the grant had left then.
/// </summary>
public sealed record CompensationRequest(
    string GrantId,
    CompensationKind Kind,
    CustomerRef Customer,
    string Meter,
    decimal Units,
    decimal Unspent,
    DateTimeOffset Timestamp,
    string Source,
    string? Reason)
{
    /// <summary>
    /// The grant id the compensation's own id is derived from (<see cref="GrantMetadata.CompensationId"/>): the root of a
    /// carry-over chain when <see cref="GrantId"/> is a re-grant, so revoking the original and revoking any of its re-grants
    /// is one revocation that Polar's deduplication keeps once; null for <see cref="GrantId"/> itself.
    /// </summary>
    public string? IdFrom { get; init; }

    /// <summary>This compensation's derived grant id and Polar event id.</summary>
    public GrantId Id => GrantMetadata.CompensationId(Kind, IdFrom ?? GrantId);
}

/// <summary>What became of a compensation.</summary>
public enum CompensationStatus
{
    /// <summary>Ingested now (or, in a batch Polar answered as partly duplicate, found as asked).</summary>
    Ingested,
    /// <summary>The same compensation was made before; nothing changed (<see cref="CompensationOutcome.Existing"/> is it).</summary>
    Duplicate,
    /// <summary>
    /// A compensation of this kind was made before with other units: nothing changed, and <see cref="CompensationOutcome.Existing"/>
    /// is that one, or null while Polar's event store does not list it yet.
    /// </summary>
    Different,
    /// <summary>Refused by Polar's rules or by Polar (<see cref="CompensationOutcome.Reason"/>).</summary>
    Rejected,
}

/// <summary>A compensating event as Polar holds it (read back by its metadata).</summary>
public sealed record RecordedCompensation(
    string CompensationGrantId,
    string Compensates,
    CompensationKind Kind,
    decimal Units,
    decimal Unspent,
    DateTimeOffset Timestamp,
    string? Source,
    string? Reason,
    Guid EventId)
{
    /// <summary>
    /// The compensation an event records, or null when it is not one: it must carry <see cref="GrantMetadata.Compensates"/>,
    /// a known <see cref="GrantMetadata.Compensation"/> and a number under <paramref name="property"/> (the meter's summed property).
    /// </summary>
    public static RecordedCompensation? From(RecordedEvent recorded, string property)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        var metadata = recorded.Metadata;
        if (metadata is null
            || Text(metadata, GrantMetadata.Compensates) is not { } compensates
            || GrantMetadata.Kind(Text(metadata, GrantMetadata.Compensation)) is not { } kind
            || Number(metadata, property) is not { } units)
        {
            return null;
        }

        return new RecordedCompensation(Text(metadata, GrantMetadata.GrantId) ?? "", compensates, kind, units,
            Number(metadata, GrantMetadata.Unspent) ?? units, recorded.Timestamp, Text(metadata, GrantMetadata.Source),
            Text(metadata, GrantMetadata.Reason), recorded.Id);
    }

    internal static string? Text(IReadOnlyDictionary<string, JsonElement> metadata, string key) =>
        metadata.TryGetValue(key, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    internal static decimal? Number(IReadOnlyDictionary<string, JsonElement> metadata, string key) =>
        metadata.TryGetValue(key, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var number) ? number : null;
}

/// <summary>
/// The outcome of one compensation: its derived grant id and Polar event id, its status, why it was refused, and the
/// compensation Polar already held when it was a repeat.
/// </summary>
public sealed record CompensationOutcome(
    CompensationRequest Request,
    string CompensationGrantId,
    string EventId,
    CompensationStatus Status,
    string? Reason = null,
    RecordedCompensation? Existing = null);

/// <summary>
/// Writes compensating events (docs/credit-lifecycle.md): one event per grant and kind, on the grant's meter and customer,
/// with the meter's event name and the units taken back as a <b>positive</b> value of its summed property, and the
/// metadata of <see cref="GrantMetadata"/>. Its grant id is derived from the grant's (<see cref="GrantMetadata.CompensationId"/>),
/// so Polar's deduplication makes it idempotent: a repeat is a <see cref="CompensationStatus.Duplicate"/>, and a second
/// compensation of the same kind with other units is <see cref="CompensationStatus.Different"/> and changes nothing.
/// Used by revocation and by expiry.
/// </summary>
public sealed partial class GrantCompensation(IPolarGateway polar, TimeProvider time, ILogger<GrantCompensation> logger)
{
    /// <summary>
    /// Ingests the compensations in as few requests as Polar's limits allow (the meter of each is looked up once, cached);
    /// repeats are read back (one lookup per 100) to tell a duplicate from a different compensation. One outcome per
    /// request, in order. Throws <see cref="MeterNotGrantableException"/> for a meter that cannot take grants,
    /// <see cref="PolarException"/> when Polar cannot be reached, <see cref="ArgumentException"/> for negative units.
    /// </summary>
    public async Task<IReadOnlyList<CompensationOutcome>> CompensateAsync(IReadOnlyList<CompensationRequest> requests,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.FirstOrDefault(r => r.Units < 0 || r.Unspent < 0) is { } negative)
        {
            throw new ArgumentException(
                $"A compensation takes back 0 units or more; grant '{negative.GrantId}' asks for {negative.Units} (unspent {negative.Unspent}).", nameof(requests));
        }

        var targets = new Dictionary<string, GrantTarget>(StringComparer.Ordinal);
        foreach (var meter in requests.Select(r => r.Meter).Distinct(StringComparer.Ordinal))
        {
            targets[meter] = await polar.GetGrantTargetAsync(meter, cancellationToken).ConfigureAwait(false);
        }

        var events = requests.Select(r => BuildEvent(r, targets[r.Meter])).ToList();
        var report = await polar.IngestAsync(events, cancellationToken).ConfigureAwait(false);
        var outcomes = new CompensationOutcome[requests.Count];
        var repeats = new List<int>();
        for (var i = 0; i < requests.Count; i++)
        {
            var id = requests[i].Id;
            var result = report.Outcomes[i];
            outcomes[i] = new CompensationOutcome(requests[i], id.Value, id.EventId,
                result.Status == IngestStatus.Rejected ? CompensationStatus.Rejected : CompensationStatus.Ingested, result.Reason);
            if (result.Status is IngestStatus.Duplicate or IngestStatus.InsertedOrDuplicate)
            {
                repeats.Add(i);
            }
        }

        if (repeats.Count > 0)
        {
            var lookup = await polar.FindIngestedEventsByMetadataAsync(GrantMetadata.GrantId,
                [.. repeats.Select(i => outcomes[i].CompensationGrantId)], cancellationToken).ConfigureAwait(false);
            foreach (var i in repeats)
            {
                var request = requests[i];
                var existing = lookup.Events.GetValueOrDefault(outcomes[i].CompensationGrantId)?
                    .Select(e => RecordedCompensation.From(e, targets[request.Meter].Property))
                    .FirstOrDefault(c => c is not null);
                var duplicate = report.Outcomes[i].Status == IngestStatus.Duplicate;
                var status = existing is null
                    ? duplicate ? CompensationStatus.Different : CompensationStatus.Ingested
                    : existing.Units != request.Units || existing.Kind != request.Kind ? CompensationStatus.Different
                    : duplicate ? CompensationStatus.Duplicate : CompensationStatus.Ingested;
                outcomes[i] = outcomes[i] with
                {
                    Status = status,
                    Existing = existing,
                    Reason = status == CompensationStatus.Different
                        ? existing is null
                            ? "Polar already holds this grant's compensation of this kind, and its event store does not list it yet: try again in a few seconds to see it."
                            : $"the grant was already {GrantMetadata.Name(existing.Kind)} at {existing.Timestamp.UtcDateTime.ToString("u", CultureInfo.InvariantCulture)}, taking back {existing.Units} units (grant id {existing.CompensationGrantId}); a compensation is made once"
                        : null,
                };
            }
        }

        foreach (var outcome in outcomes)
        {
            LogCompensation(outcome.Status, outcome.Request.Kind, outcome.Request.GrantId, outcome.Request.Units, outcome.CompensationGrantId);
        }

        return outcomes;
    }

    /// <summary>One compensation (see the batch overload).</summary>
    public async Task<CompensationOutcome> CompensateAsync(CompensationRequest request, CancellationToken cancellationToken = default) =>
        (await CompensateAsync([request], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>
    /// The compensating event: the meter's event name, the grant's customer, the derived event id, the timestamp asked for
    /// (never later than now), <c>+units</c> under the meter's property and the metadata of <see cref="GrantMetadata"/>.
    /// </summary>
    public PolarEvent BuildEvent(CompensationRequest request, GrantTarget target)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(target);
        var id = request.Id;
        var metadata = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            [target.Property] = PolarMetadata.Number(request.Units),
            [GrantMetadata.GrantId] = PolarMetadata.Text(id.Value),
            [GrantMetadata.Compensates] = PolarMetadata.Text(request.GrantId),
            [GrantMetadata.Compensation] = PolarMetadata.Text(GrantMetadata.Name(request.Kind)),
            [GrantMetadata.Unspent] = PolarMetadata.Number(request.Unspent),
            [GrantMetadata.Meter] = PolarMetadata.Text(request.Meter),
            [GrantMetadata.Source] = PolarMetadata.Text(request.Source),
        };
        if (!string.IsNullOrEmpty(request.Reason))
        {
            metadata[GrantMetadata.Reason] = PolarMetadata.Text(request.Reason);
        }

        var now = time.GetUtcNow();
        var timestamp = request.Timestamp > now ? now : request.Timestamp;
        return new PolarEvent(target.EventName, request.Customer.CustomerId, request.Customer.CustomerId is null ? request.Customer.ExternalId : null,
            id.EventId, timestamp, metadata);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Compensation {Status}: grant {GrantId} {Kind}, {Units} units taken back (compensation {CompensationId})")]
    private partial void LogCompensation(CompensationStatus status, CompensationKind kind, string grantId, decimal units, string compensationId);
}

using System.Text.Json;
using CreditGrants.Polar.Models;
using PolarEmulator.Wire;

namespace PolarEmulator.Store;

/// <summary>A customer as the store keeps it; mutated only under the store's lock.</summary>
internal sealed class CustomerRecord
{
    public required Guid Id { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? ModifiedAt { get; set; }

    public required IReadOnlyDictionary<string, JsonElement> Metadata { get; set; }

    public string? ExternalId { get; set; }

    public string? Email { get; set; }

    public required string Type { get; set; }

    public string? Name { get; set; }

    public AddressResource? BillingAddress { get; set; }

    public IReadOnlyList<string>? TaxId { get; set; }

    public string? Locale { get; set; }

    public DateTimeOffset? DeletedAt { get; set; }

    public DateTimeOffset? FirstUserEventAt { get; set; }

    public bool IsDeleted => DeletedAt is not null;

    /// <summary>Whether the customer has a trialing, active or past-due subscription: set by seeds and by the emulator's subscriptions.</summary>
    public bool HasActiveSubscription { get; set; }

    /// <summary>Creation order, the tie-breaker of every sort.</summary>
    public long Sequence { get; set; }

    public CustomerResource ToResource(Guid organizationId) => new(
        Id, CreatedAt, ModifiedAt, Metadata, ExternalId, Email, EmailVerified: false, Type, Name, BillingName: Name,
        BillingAddress, TaxId, Locale, organizationId, DefaultPaymentMethodId: null, DeletedAt, FirstUserEventAt, AvatarUrl: null);

    public static CustomerRecord FromResource(CustomerResource c) => new()
    {
        Id = c.Id,
        CreatedAt = c.CreatedAt,
        ModifiedAt = c.ModifiedAt,
        Metadata = c.Metadata,
        ExternalId = c.ExternalId,
        Email = c.Email,
        Type = c.Type,
        Name = c.Name,
        BillingAddress = c.BillingAddress,
        TaxId = c.TaxId,
        Locale = c.Locale,
        DeletedAt = c.DeletedAt,
        FirstUserEventAt = c.FirstUserEventAt,
    };
}

/// <summary>A meter as the store keeps it; mutated only under the store's lock.</summary>
internal sealed class MeterRecord
{
    public required Guid Id { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? ModifiedAt { get; set; }

    public required string Name { get; set; }

    public required MeterFilter Filter { get; set; }

    public required MeterAggregation Aggregation { get; set; }

    public required string Unit { get; set; }

    public string? CustomLabel { get; set; }

    public long? CustomMultiplier { get; set; }

    public required IReadOnlyDictionary<string, JsonElement> Metadata { get; set; }

    public DateTimeOffset? ArchivedAt { get; set; }

    /// <summary>How many events (with or without a known customer) the filter has matched; once non-zero the definition is frozen.</summary>
    public long MatchedEvents { get; set; }

    public MeterResource ToResource(Guid organizationId) => new(
        Metadata, CreatedAt, ModifiedAt, Id, Name, Unit, CustomLabel, CustomMultiplier, Filter,
        new AggregationResource(Aggregation.Func, Aggregation.Func == "count" ? null : Aggregation.Property), organizationId, ArchivedAt);

    public static MeterRecord FromResource(MeterResource m) => new()
    {
        Id = m.Id,
        CreatedAt = m.CreatedAt,
        ModifiedAt = m.ModifiedAt,
        Name = m.Name,
        Filter = m.Filter,
        Aggregation = new MeterAggregation(m.Aggregation.Func, m.Aggregation.Property),
        Unit = m.Unit,
        CustomLabel = m.CustomLabel,
        CustomMultiplier = m.CustomMultiplier,
        Metadata = m.Metadata,
        ArchivedAt = m.ArchivedAt,
    };
}

/// <summary>
/// An event, ingested (<c>source</c> <c>user</c>) or written by Polar itself (<c>system</c>: customer and meter lifecycle);
/// immutable. Metadata is kept as its raw UTF-8 JSON object to stay small at a million events.
/// </summary>
internal sealed record EventRecord(
    string Name,
    DateTimeOffset Timestamp,
    DateTimeOffset IngestedAt,
    Guid? CustomerId,
    string? ExternalCustomerId,
    string? ExternalId,
    string? ParentId,
    byte[] Metadata,
    string Source = EventRecord.UserSource)
{
    /// <summary>Every ingested event's source.</summary>
    public const string UserSource = "user";

    /// <summary>The source of events Polar writes itself.</summary>
    public const string SystemSource = "system";

    public static readonly byte[] EmptyMetadata = "{}"u8.ToArray();
}

/// <summary>A customer's standing on one meter, kept up to date as events arrive.</summary>
internal sealed class CustomerMeterRecord(Guid id, CustomerRecord customer, MeterRecord meter, DateTimeOffset createdAt)
{
    public Guid Id { get; } = id;

    public CustomerRecord Customer { get; } = customer;

    public MeterRecord Meter { get; } = meter;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    public DateTimeOffset ModifiedAt { get; set; } = createdAt;

    /// <summary>The aggregate of the customer's matching user events since the latest <c>meter.reset</c>.</summary>
    public MeterAccumulator Accumulator { get; private set; } = new();

    /// <summary>Creation order, the tie-breaker of every sort.</summary>
    public long Sequence { get; init; }

    /// <summary>
    /// The timestamp of the latest <c>meter.reset</c>. Polar's window starts at the reset's <c>ingested_at</c>, not its
    /// timestamp: every event ingested after the reset counts, even one dated before it (a past-dated expiry or carry-over).
    /// </summary>
    public DateTimeOffset? ResetAt { get; private set; }

    /// <summary>The running sum of <c>meter.credited</c> units since the latest reset (a revoke's negative units included).</summary>
    public long CreditedSum { get; private set; }

    /// <summary>The part of <see cref="CreditedSum"/> credited with <c>rollover</c>.</summary>
    public long RolloverCredits { get; private set; }

    public double Consumed => Accumulator.Value(Meter.Aggregation.Func);

    /// <summary>Polar's <c>credited_units</c>: the credits since the latest reset, never below zero.</summary>
    public long Credited => Math.Max(0, CreditedSum);

    /// <summary>credited − consumed (never −0).</summary>
    public double Balance
    {
        get
        {
            var balance = Credited - Consumed;
            return balance == 0 ? 0 : balance;
        }
    }

    /// <summary>What a reset carries over, as Polar computes it: <c>max(0, min(balance, rollover credits))</c>, whole units.</summary>
    public long RolloverUnits => (long)Math.Floor(Math.Max(0, Math.Min(Balance, RolloverCredits)));


    /// <summary>A <c>meter.reset</c>: usage and credits start again from nothing.</summary>
    public void Reset(DateTimeOffset at)
    {
        Accumulator = new MeterAccumulator();
        CreditedSum = 0;
        RolloverCredits = 0;
        ResetAt = at;
    }

    /// <summary>A <c>meter.credited</c> event's units (negative for a revoke).</summary>
    public void Credit(long units, bool rollover)
    {
        CreditedSum += units;
        if (rollover)
        {
            RolloverCredits += units;
        }
    }

    public CustomerMeterResource ToResource(Guid organizationId) => new(
        Id, CreatedAt, ModifiedAt, Customer.Id, Meter.Id, Consumed, Credited, Balance,
        Customer.ToResource(organizationId), Meter.ToResource(organizationId));

    public CustomerStateMeterResource ToStateResource() => new(Id, CreatedAt, ModifiedAt, Meter.Id, Consumed, Credited, Balance);

    /// <summary>A stable UUID v4 for a (customer, meter) pair, so ids survive a restart without being stored.</summary>
    public static Guid IdFor(Guid customerId, Guid meterId)
    {
        Span<byte> input = stackalloc byte[32];
        customerId.TryWriteBytes(input[..16], bigEndian: true, out _);
        meterId.TryWriteBytes(input[16..], bigEndian: true, out _);
        return StableUuid.FromHash(input);
    }
}

/// <summary>Running aggregates over one customer's matching events: enough for count, sum, max, min, avg and unique.</summary>
internal sealed class MeterAccumulator
{
    private HashSet<string>? _unique;

    public long Count { get; private set; }

    public long NumericCount { get; private set; }

    public double Sum { get; private set; }

    public double Min { get; private set; }

    public double Max { get; private set; }

    public void Add(JsonElement? property)
    {
        Count++;
        if (property is not { } value)
        {
            return;
        }

        // Polar aggregates JSON numbers only: the string "5" is not summed.
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number))
        {
            Min = NumericCount == 0 ? number : Math.Min(Min, number);
            Max = NumericCount == 0 ? number : Math.Max(Max, number);
            NumericCount++;
            Sum += number;
        }

        if (value.ValueKind is not JsonValueKind.Null and not JsonValueKind.Undefined)
        {
            _unique ??= new HashSet<string>(StringComparer.Ordinal);
            _unique.Add(value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var n) ? n.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : value.GetRawText());
        }
    }

    public double Value(string func) => func switch
    {
        "count" => Count,
        "sum" => Sum,
        "max" => NumericCount == 0 ? 0 : Max,
        "min" => NumericCount == 0 ? 0 : Min,
        "avg" => NumericCount == 0 ? 0 : Sum / NumericCount,
        "unique" => _unique?.Count ?? 0,
        _ => 0,
    };
}

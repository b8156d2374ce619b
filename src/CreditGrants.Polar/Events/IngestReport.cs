namespace CreditGrants.Polar.Events;

/// <summary>What became of one event handed to <see cref="PolarGateway.IngestAsync"/>.</summary>
public enum IngestStatus
{
    /// <summary>Polar stored it now.</summary>
    Inserted,
    /// <summary>Polar already had an event with its <c>external_id</c>; nothing changed.</summary>
    Duplicate,
    /// <summary>Polar took it in a request where some events were new and some duplicates, and does not say which.</summary>
    InsertedOrDuplicate,
    /// <summary>Refused, by Polar's rules or by Polar; <see cref="EventOutcome.Reason"/> says why.</summary>
    Rejected,
}

/// <summary>The outcome of the event at <see cref="Index"/> in the list given.</summary>
public sealed record EventOutcome(int Index, IngestStatus Status, string? Reason = null);

/// <summary>One outcome per event, in the order given, and Polar's own totals.</summary>
public sealed record IngestReport(IReadOnlyList<EventOutcome> Outcomes, int Inserted, int Duplicates, int Requests)
{
    public int Rejected => Outcomes.Count(o => o.Status == IngestStatus.Rejected);
}
